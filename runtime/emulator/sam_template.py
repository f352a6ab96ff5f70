"""Functions and buckets from a SAM (or plain CloudFormation) template, for the emulator to serve.

Read per function: `Handler`, `CodeUri` (a directory, or a .zip that is unpacked), `Runtime`,
`Architectures`, `MemorySize`, `Timeout`, `Environment.Variables`, `LoggingConfig` (as the
variables Lambda sets from it), `FunctionName`, `Layers`
(defined in the template, merged as Lambda merges them into /opt),
`FunctionUrlConfig.InvokeMode` (or an `AWS::Lambda::Url` pointing at an `AWS::Lambda::Function`),
with `Globals.Function` applied as SAM applies it (maps merged, lists appended, scalars
overridden). `Parameters` take their defaults or `--parameter-overrides`; resources with a false
`Condition` are left out. Every `AWS::S3::Bucket` becomes a bucket in the embedded S3, named by
its `BucketName` or `<stack>-<logical id>`, so `!Ref Bucket` in a function's environment names a
bucket that exists. Intrinsics are resolved by `intrinsics.py`; what cannot be resolved is an
error naming the resource and property (override a variable with `--env ID.NAME=VALUE` instead).
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-function.html
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.emulator import local_code
from runtime.emulator.cfn_yaml import TemplateSyntaxError, load_document
from runtime.emulator.config import ACCOUNT_ID, BUFFERED, FunctionConfig
from runtime.emulator.intrinsics import NO_VALUE, Resolver, Stack, UnresolvableError
from runtime.emulator.sam_rules import (
    TemplateError,
    bucket_name,
    is_intrinsic,
    parameter_values,
    variable_text,
    with_globals,
)

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
BUCKET = "AWS::S3::Bucket"
LAMBDA_URL = "AWS::Lambda::Url"
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
NAME_PROPERTIES = {BUCKET: "BucketName", SERVERLESS_FUNCTION: "FunctionName", LAMBDA_FUNCTION: "FunctionName"}
SAM_DEFAULTS = {"MemorySize": 128, "Timeout": 3}  # Lambda's defaults when a template says nothing


@dataclass(frozen=True)
class Template:
    functions: tuple[FunctionConfig, ...]
    buckets: tuple[str, ...]
    notes: tuple[str, ...] = ()  # what was left out, for the emulator to print


def load_template(
    path: str | Path,
    parameter_overrides: Mapping[str, str] | None = None,
    stack_name: str = "local",
    *,
    only: Sequence[str] | None = None,
    region: str = "us-east-1",
    environment_overrides: Sequence[tuple[str, str]] = (),
) -> Template:
    """Read `path`; `environment_overrides` ((ID.)NAME, VALUE) are variables not to resolve."""
    path = Path(path)
    try:
        document = load_document(path)
        return _Reader(path, document, dict(parameter_overrides or {}), stack_name, region).read(
            only, environment_overrides
        )
    except (TemplateSyntaxError, UnresolvableError) as exc:
        raise TemplateError(str(exc)) from None


class _Reader:
    def __init__(
        self, path: Path, document: dict[str, Any], overrides: dict[str, str], stack_name: str, region: str
    ) -> None:
        self.base = path.resolve().parent
        self.document = document
        resources = document.get("Resources")
        if not isinstance(resources, dict) or not resources:
            raise TemplateError("the template has no Resources")
        self.resources: dict[str, dict[str, Any]] = {
            name: value for name, value in resources.items() if isinstance(value, dict)
        }
        parameters = parameter_values(document.get("Parameters") or {}, overrides)
        self.stack_name = stack_name
        self.notes: list[str] = []
        self.physical = self._physical_names(stack_name)
        self.resolver = Resolver(
            Stack(
                name=stack_name,
                region=region,
                account_id=ACCOUNT_ID,
                parameters=parameters,
                resources=self.resources,
                physical_names=self.physical,
                conditions=document.get("Conditions") or {},
                mappings=document.get("Mappings") or {},
            )
        )
        # Buckets and functions may name themselves with intrinsics: resolve those names now.
        for logical_id, resource in self.resources.items():
            field = NAME_PROPERTIES.get(resource.get("Type", ""))
            properties = resource.get("Properties") or {}
            if field and field in properties:
                where = f"{logical_id}.Properties.{field}"
                self.physical[logical_id] = variable_text(self.resolver.resolve(properties[field], where), where)

    def _physical_names(self, stack_name: str) -> dict[str, str]:
        names = {}
        for logical_id, resource in self.resources.items():
            kind = resource.get("Type")
            if kind == BUCKET:
                names[logical_id] = bucket_name(stack_name, logical_id)
            elif kind in (SERVERLESS_FUNCTION, LAMBDA_FUNCTION):
                names[logical_id] = logical_id
        return names

    def _included(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.resolver.condition(str(condition), f"{logical_id}.Condition")

    def read(self, only: Sequence[str] | None, environment_overrides: Sequence[tuple[str, str]]) -> Template:
        buckets = tuple(
            self.physical[logical_id]
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == BUCKET and self._included(logical_id)
        )
        urls = self._url_modes()
        functions = []
        for logical_id, resource in self.resources.items():
            if resource.get("Type") not in (SERVERLESS_FUNCTION, LAMBDA_FUNCTION) or not self._included(logical_id):
                continue
            if only and logical_id not in only and self.physical[logical_id] not in only:
                continue
            functions.append(self._function(logical_id, resource, urls.get(logical_id), environment_overrides))
        if only:
            known = {f.logical_id for f in functions} | {f.name for f in functions}
            missing = [name for name in only if name not in known]
            if missing:
                raise TemplateError(f"no function {', '.join(missing)} in the template")
        if not functions:
            raise TemplateError("the template has no AWS::Serverless::Function or AWS::Lambda::Function")
        return Template(tuple(functions), buckets, tuple(self.notes))

    def _url_modes(self) -> dict[str, str]:
        """InvokeMode by function, from AWS::Lambda::Url resources (SAM's FunctionUrlConfig is read inline)."""
        modes = {}
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != LAMBDA_URL:
                continue
            properties = resource.get("Properties") or {}
            target = properties.get("TargetFunctionArn")
            target_id = None
            if isinstance(target, dict) and "Ref" in target:
                target_id = target["Ref"]
            elif isinstance(target, dict) and "Fn::GetAtt" in target:
                target_id = target["Fn::GetAtt"][0]
            if target_id is None:
                raise TemplateError(f"{logical_id}.Properties.TargetFunctionArn: use !GetAtt Function.Arn or !Ref")
            modes[target_id] = str(self.resolver.resolve(properties.get("InvokeMode", BUFFERED), logical_id))
        return modes

    def _function(
        self,
        logical_id: str,
        resource: dict[str, Any],
        url_mode: str | None,
        environment_overrides: Sequence[tuple[str, str]],
    ) -> FunctionConfig:
        kind = resource["Type"]
        properties = dict(resource.get("Properties") or {})
        if kind == SERVERLESS_FUNCTION:
            properties = with_globals((self.document.get("Globals") or {}).get("Function") or {}, properties)
        where = f"{logical_id}.Properties"
        if properties.get("PackageType") == "Image":
            raise TemplateError(f"{where}.PackageType: container image functions are not supported locally")
        value = self._resolved(properties, where)
        handler = value.get("Handler")
        if not isinstance(handler, str) or not handler:
            raise TemplateError(f"{where}.Handler is required")
        url_config = value.get("FunctionUrlConfig")
        invoke_mode = url_mode or (url_config.get("InvokeMode", BUFFERED) if isinstance(url_config, dict) else BUFFERED)
        architectures = value.get("Architectures") or ["x86_64"]
        if not isinstance(architectures, list):
            raise TemplateError(f"{where}.Architectures must be a list, such as [arm64]")
        code_dir = self._code_dir(logical_id, value.get("CodeUri" if kind == SERVERLESS_FUNCTION else "Code"))
        environment = self._environment(logical_id, properties, environment_overrides)
        environment.update(logging_environment(value.get("LoggingConfig"), f"{where}.LoggingConfig"))
        return FunctionConfig(
            name=self.physical[logical_id],
            logical_id=logical_id,
            handler=handler,
            code_dir=code_dir,
            invoke_mode=str(invoke_mode),
            runtime=str(value.get("Runtime") or ""),
            architecture=str(architectures[0]),
            memory_mb=int(positive_number(value, "MemorySize", where)),
            timeout=positive_number(value, "Timeout", where),
            environment=environment,
            layers_dir=self._layers_dir(logical_id, properties.get("Layers")),
        )

    def _resolved(self, properties: dict[str, Any], where: str) -> dict[str, Any]:
        """The properties the emulator uses, resolved (the environment is resolved separately)."""
        used = (
            "Handler",
            "CodeUri",
            "Code",
            "Runtime",
            "Architectures",
            "MemorySize",
            "Timeout",
            "FunctionUrlConfig",
            "LoggingConfig",
        )
        resolved = {}
        for name in used:
            if name in properties:
                value = self.resolver.resolve(properties[name], f"{where}.{name}")
                if value is not NO_VALUE:
                    resolved[name] = value
        return resolved

    def _environment(
        self, logical_id: str, properties: dict[str, Any], overrides: Sequence[tuple[str, str]]
    ) -> dict[str, str]:
        environment_property = self._unwrapped(properties.get("Environment"), f"{logical_id}.Properties.Environment")
        variables = (environment_property or {}).get("Variables") if isinstance(environment_property, dict) else None
        variables = self._unwrapped(variables, f"{logical_id}.Properties.Environment.Variables") or {}
        if not isinstance(variables, dict):
            raise TemplateError(f"{logical_id}.Properties.Environment.Variables must be a map")
        overridden = {name.rpartition(".")[2] for name, _ in overrides if name.rpartition(".")[0] in ("", logical_id)}
        environment = {}
        for name, raw in variables.items():
            if name in overridden:
                continue  # the command line gives it; it need not resolve
            where = f"{logical_id}.Properties.Environment.Variables.{name}"
            try:
                value = self.resolver.resolve(raw, where)
            except UnresolvableError as exc:
                raise TemplateError(f"{exc} (or give it with --env {logical_id}.{name}=VALUE)") from None
            if value is NO_VALUE:
                continue
            environment[str(name)] = variable_text(value, where)
        return environment

    def _unwrapped(self, value: Any, where: str) -> Any:
        """`value` resolved when it is itself an intrinsic (`!If [...]`, `!Ref ListParameter`);
        a plain map or list is returned as it is, for its entries to be resolved one by one."""
        if isinstance(value, dict) and is_intrinsic(value):
            resolved = self.resolver.resolve(value, where)
            return None if resolved is NO_VALUE else resolved
        return value

    def _code_dir(self, logical_id: str, code: Any) -> str:
        where = f"{logical_id}.Properties.CodeUri"
        if code is None:
            return str(self.base)
        try:
            return local_code.directory(self.base, code)
        except local_code.NotLocal as exc:
            raise TemplateError(f"{where}: {exc}") from None

    def _layers_dir(self, logical_id: str, layers: Any) -> str | None:
        """The function's layers merged into one directory, as Lambda merges them into /opt.

        Layers defined in the template (a local ContentUri) are read; a layer given by ARN cannot
        be fetched locally and is left out, with a note.
        """
        layers = self._unwrapped(layers, f"{logical_id}.Properties.Layers")
        if not layers:
            return None
        if not isinstance(layers, list):
            raise TemplateError(f"{logical_id}.Properties.Layers must be a list")
        directories = []
        for index, layer in enumerate(layers):
            where = f"{logical_id}.Properties.Layers[{index}]"
            target = layer.get("Ref") if isinstance(layer, dict) and len(layer) == 1 else None
            resource = self.resources.get(target) if isinstance(target, str) else None
            if resource is None or resource.get("Type") not in LAYER_TYPES:
                arn = self.resolver.resolve(layer, where)
                self.notes.append(f"{where}: layer {arn} is not available locally; it is left out")
                continue
            properties = resource.get("Properties") or {}
            content = self.resolver.resolve(properties.get("ContentUri", properties.get("Content")), where)
            try:
                directories.append(local_code.directory(self.base, content))
            except local_code.NotLocal as exc:
                raise TemplateError(f"{target}.Properties.ContentUri: {exc}") from None
        return local_code.merged(directories) if directories else None


def positive_number(properties: dict[str, Any], name: str, where: str) -> float:
    """A numeric property (Lambda's default when absent), or an error naming it."""
    raw = properties.get(name, SAM_DEFAULTS[name])
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise TemplateError(f"{where}.{name} must be a number, not {raw!r}") from None
    if not 0 < number < float("inf"):
        raise TemplateError(f"{where}.{name} must be a positive number, not {raw!r}")
    return number


def logging_environment(config: Any, where: str) -> dict[str, str]:
    """`LoggingConfig` as the variables Lambda sets from it: the log format, and with JSON the
    application log level (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html)."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TemplateError(f"{where} must be a map")
    log_format = str(config.get("LogFormat", "Text"))
    if log_format not in ("Text", "JSON"):
        raise TemplateError(f"{where}.LogFormat must be Text or JSON, not {log_format!r}")
    environment = {"AWS_LAMBDA_LOG_FORMAT": log_format}
    level = config.get("ApplicationLogLevel")
    if level is not None and log_format == "JSON":
        if str(level).upper() not in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"):
            raise TemplateError(f"{where}.ApplicationLogLevel must be TRACE, DEBUG, INFO, WARN, ERROR or FATAL")
        environment["AWS_LAMBDA_LOG_LEVEL"] = str(level).upper()
    return environment
