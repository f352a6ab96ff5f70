"""SAM's rules as pure functions: parameter values, `Globals` merging, intrinsic detection,
variable text, and the names CloudFormation would generate. Used by `sam_template.py`.
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-template-anatomy-globals.html
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

LIST_PARAMETER = re.compile(r"^(CommaDelimitedList|List<.+>)$")


class TemplateError(ValueError):
    """The template cannot be served; the message names the resource and property."""


def parameter_values(declared: Mapping[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"--parameter-overrides names unknown parameters: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        if name in overrides:
            text = overrides[name]
        elif "Default" in spec:
            text = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no Default: pass --parameter-overrides {name}=VALUE")
        kind = str(spec.get("Type", "String"))
        if kind.startswith("AWS::SSM::Parameter::") and name not in overrides:
            raise TemplateError(
                f"parameter {name} is read from SSM Parameter Store ({kind}), which is not available locally: "
                f"pass --parameter-overrides {name}=VALUE"
            )
        allowed = spec.get("AllowedValues")
        if isinstance(allowed, list) and str(text) not in [str(item) for item in allowed]:
            raise TemplateError(f"parameter {name}={text!r} is not one of {allowed}")
        if LIST_PARAMETER.match(kind):
            values[name] = text if isinstance(text, list) else [part.strip() for part in str(text).split(",")]
        else:
            values[name] = variable_text(text, f"Parameters.{name}")
    return values


def with_globals(globals_: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's rule: maps merge (the function wins), lists append, scalars are overridden."""
    merged = dict(globals_)
    for name, value in properties.items():
        current = merged.get(name)
        if isinstance(current, dict) and isinstance(value, dict) and not is_intrinsic(value):
            merged[name] = with_globals(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            merged[name] = current + value
        else:
            merged[name] = value
    return merged


def is_intrinsic(value: Mapping[str, Any]) -> bool:
    if len(value) != 1:
        return False
    key = next(iter(value))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def variable_text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TemplateError(f"{where}: a variable must be a string, not {type(value).__name__}")


def bucket_name(stack_name: str, logical_id: str) -> str:
    """A deterministic name in S3's rules (3-63 of a-z, 0-9, '-'), like CloudFormation's."""
    text = re.sub(r"[^a-z0-9-]+", "-", f"{stack_name}-{logical_id}".lower()).strip("-")
    if len(text) > 63:
        text = text[:54].rstrip("-") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return text.ljust(3, "0")
