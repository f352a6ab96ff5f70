"""Resolving CloudFormation intrinsic functions to local values, as a pure function.

Supported: `Ref` (parameters, pseudo parameters, buckets, functions), `Fn::GetAtt` (a bucket's
Arn, DomainName, RegionalDomainName, WebsiteURL; a function's Arn), `Fn::Sub` (both forms),
`Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::If` with `Conditions` (`Fn::Equals`, `Fn::Not`,
`Fn::And`, `Fn::Or`, `Condition`), `Fn::FindInMap`, `Fn::Base64`, `Fn::GetAZs`, and
`AWS::NoValue`. Anything else raises `UnresolvableError` naming where it was found, so a template
is never served with a value silently wrong.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()  # AWS::NoValue: the property is removed
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class UnresolvableError(ValueError):
    """A value uses an intrinsic function or a reference the emulator cannot resolve locally."""


@dataclass(frozen=True)
class Stack:
    """What references resolve against: parameter values and the resources' local identities."""

    name: str
    region: str
    account_id: str
    parameters: Mapping[str, Any]  # resolved values: str, or list[str] for list types
    resources: Mapping[str, Mapping[str, Any]]  # the template's Resources section
    physical_names: Mapping[str, str]  # logical id -> local name (buckets, functions)
    conditions: Mapping[str, Any] = field(default_factory=dict)
    mappings: Mapping[str, Any] = field(default_factory=dict)


class Resolver:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._evaluating: set[str] = set()

    def resolve(self, value: Any, where: str) -> Any:
        """`value` with every intrinsic replaced; lists and maps drop `AWS::NoValue` entries."""
        if isinstance(value, list):
            items = [self.resolve(item, f"{where}[{index}]") for index, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            handler = self._functions().get(key)
            if handler is not None:
                return handler(argument, where)
            if key.startswith("Fn::"):
                raise UnresolvableError(f"{where}: {key} is not supported locally")
        resolved = {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any, str], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": lambda argument, where: base64.b64encode(self._text(argument, where).encode()).decode(),
            "Fn::GetAZs": lambda argument, where: [f"{self.stack.region}{zone}" for zone in "abc"],
            "Condition": lambda argument, where: self.condition(self._text(argument, where), where),
            "Fn::Equals": self._equals,
            "Fn::Not": lambda argument, where: not self._boolean(self._list(argument, 1, where)[0], where),
            "Fn::And": lambda argument, where: all(self._booleans(argument, where)),
            "Fn::Or": lambda argument, where: any(self._booleans(argument, where)),
        }

    # -- references ---------------------------------------------------------------------------------

    def _ref(self, name: Any, where: str) -> Any:
        if not isinstance(name, str):
            raise UnresolvableError(f"{where}: Ref takes a name")
        pseudo = {
            "AWS::Region": self.stack.region,
            "AWS::AccountId": self.stack.account_id,
            "AWS::StackName": self.stack.name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.stack.region}:{self.stack.account_id}:stack/"
            f"{self.stack.name}/00000000-0000-0000-0000-000000000000",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.stack.parameters:
            return self.stack.parameters[name]
        if name in self.stack.physical_names:
            return self.stack.physical_names[name]
        if name in self.stack.resources:
            kind = self.stack.resources[name].get("Type", "?")
            raise UnresolvableError(f"{where}: Ref to {name} ({kind}) is not supported locally")
        raise UnresolvableError(f"{where}: Ref to {name!r}, which is neither a parameter nor a resource")

    def _get_att(self, argument: Any, where: str) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        resource, attribute = (self._text(part, where) for part in self._list(argument, 2, where))
        kind = self.stack.resources.get(resource, {}).get("Type")
        name = self.stack.physical_names.get(resource)
        region = self.stack.region
        values: dict[str, str] = {}
        if kind == "AWS::S3::Bucket" and name:
            values = {
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
            }
        elif kind in ("AWS::Serverless::Function", "AWS::Lambda::Function") and name:
            values = {"Arn": f"arn:aws:lambda:{region}:{self.stack.account_id}:function:{name}"}
        if attribute not in values:
            raise UnresolvableError(f"{where}: GetAtt {resource}.{attribute} ({kind or 'unknown'}) is not supported")
        return values[attribute]

    def _sub(self, argument: Any, where: str) -> str:
        variables: Mapping[str, Any] = {}
        if isinstance(argument, list):
            text, variables = self._list(argument, 2, where)
            variables = self.resolve(variables, where)
            if not isinstance(variables, dict):
                raise UnresolvableError(f"{where}: Fn::Sub variables must be a map")
        else:
            text = argument
        if not isinstance(text, str):
            raise UnresolvableError(f"{where}: Fn::Sub takes a string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self._text(variables[name], where)
            if "." in name and not name.startswith("AWS::"):
                return self._text(self._get_att(name.split(".", 1), where), where)
            return self._text(self._ref(name, where), where)

        return SUB_VARIABLE.sub(replace, text)

    # -- functions on values --------------------------------------------------------------------------

    def _join(self, argument: Any, where: str) -> str:
        delimiter, items = self._list(argument, 2, where)
        values = self.resolve(items, where)
        if not isinstance(values, list):
            raise UnresolvableError(f"{where}: Fn::Join takes a list")
        return self._text(delimiter, where).join(self._text(item, where) for item in values)

    def _select(self, argument: Any, where: str) -> Any:
        index, items = self._list(argument, 2, where)
        values = self.resolve(items, where)
        position = self.resolve(index, where)
        try:
            return values[int(position)]
        except (TypeError, ValueError, IndexError):
            raise UnresolvableError(f"{where}: Fn::Select index {position!r} is out of range") from None

    def _split(self, argument: Any, where: str) -> list[str]:
        delimiter, text = self._list(argument, 2, where)
        return self._text(text, where).split(self._text(delimiter, where))

    def _find_in_map(self, argument: Any, where: str) -> Any:
        names = [self._text(item, where) for item in self._list(argument, 3, where)]
        try:
            return self.stack.mappings[names[0]][names[1]][names[2]]
        except (KeyError, TypeError):
            raise UnresolvableError(f"{where}: Fn::FindInMap {names} has no value") from None

    # -- conditions --------------------------------------------------------------------------------

    def _if(self, argument: Any, where: str) -> Any:
        name, when_true, when_false = self._list(argument, 3, where)
        chosen = when_true if self.condition(self._text(name, where), where) else when_false
        return self.resolve(chosen, where)

    def condition(self, name: str, where: str) -> bool:
        if name not in self.stack.conditions:
            raise UnresolvableError(f"{where}: condition {name!r} is not defined")
        if name in self._evaluating:
            raise UnresolvableError(f"{where}: condition {name!r} refers to itself")
        self._evaluating.add(name)
        try:
            return self._boolean(self.stack.conditions[name], f"Conditions.{name}")
        finally:
            self._evaluating.discard(name)

    def _equals(self, argument: Any, where: str) -> bool:
        left, right = (self.resolve(item, where) for item in self._list(argument, 2, where))
        return self._text(left, where) == self._text(right, where)

    def _booleans(self, argument: Any, where: str) -> list[bool]:
        return [self._boolean(item, where) for item in self._list(argument, 0, where)]

    def _boolean(self, value: Any, where: str) -> bool:
        resolved = self.resolve(value, where)
        if not isinstance(resolved, bool):
            raise UnresolvableError(f"{where}: a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition")
        return resolved

    # -- helpers -------------------------------------------------------------------------------------------

    def _list(self, argument: Any, length: int, where: str) -> list[Any]:
        if not isinstance(argument, list) or (length and len(argument) != length):
            raise UnresolvableError(f"{where}: expected a list of {length or 'some'} items, got {argument!r:.80}")
        return argument

    def _text(self, value: Any, where: str) -> str:
        resolved = self.resolve(value, where)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, (str, int, float)):
            return str(resolved)
        raise UnresolvableError(f"{where}: expected a string, got {resolved!r:.80}")
