"""Reading CloudFormation/SAM templates: YAML with the short-form intrinsic tags, or JSON.

`!Ref X` becomes `{"Ref": "X"}`, `!GetAtt A.B` becomes `{"Fn::GetAtt": ["A", "B"]}`, `!Condition C`
becomes `{"Condition": "C"}`, and every other `!Name value` becomes `{"Fn::Name": value}`, which is
the long form CloudFormation itself defines:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
PyYAML is needed for YAML templates only (it is imported here, lazily); JSON needs nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class TemplateSyntaxError(ValueError):
    """The file is not a readable template."""


def _loader() -> Any:
    try:
        import yaml
    except ImportError as exc:
        raise TemplateSyntaxError(
            "reading a YAML template needs PyYAML: pip install PyYAML (or the [template] extra)"
        ) from exc

    class TemplateLoader(yaml.SafeLoader):
        """SafeLoader plus CloudFormation's tags; nothing else is constructed."""

    def construct(loader: Any, tag_suffix: str, node: Any) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if tag_suffix == "Ref":
            return {"Ref": value}
        if tag_suffix == "Condition":
            return {"Condition": value}
        if tag_suffix == "GetAtt" and isinstance(value, str):
            resource, _, attribute = value.partition(".")
            return {"Fn::GetAtt": [resource, attribute]}
        return {f"Fn::{tag_suffix}": value}

    TemplateLoader.add_multi_constructor("!", construct)
    return TemplateLoader


def load_document(path: Path) -> dict[str, Any]:
    """The template at `path` as plain dicts and lists, intrinsics in their long form."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateSyntaxError(f"cannot read the template: {exc.strerror or exc}") from None
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise TemplateSyntaxError(f"not valid JSON: {exc}") from None
    else:
        loader = _loader()  # reports a missing PyYAML clearly
        import yaml

        try:
            document = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise TemplateSyntaxError(f"not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise TemplateSyntaxError("a template must be a mapping with a Resources section")
    return document
