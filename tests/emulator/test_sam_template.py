"""Reading SAM templates: parameters, globals, intrinsics, buckets, and clear errors."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from runtime.emulator.config import BUFFERED, STREAM
from runtime.emulator.intrinsics import NO_VALUE, Resolver, Stack, UnresolvableError
from runtime.emulator.sam_template import TemplateError, load_template

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Origins: {Type: CommaDelimitedList, Default: "a.example,b.example"}
  Size: {Type: Number, Default: 512}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function:
    Runtime: python3.12
    Timeout: 7
    Environment:
      Variables:
        SHARED: global
        OVERRIDDEN: global
Resources:
  Data:
    Type: AWS::S3::Bucket
  Named:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-named-${Stage}"
  ProdOnly:
    Type: AWS::S3::Bucket
    Condition: IsProd
  Api:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      MemorySize: !Ref Size
      Architectures: [arm64]
      FunctionUrlConfig: {AuthType: NONE, InvokeMode: RESPONSE_STREAM}
      Environment:
        Variables:
          OVERRIDDEN: mine
          BUCKET: !Ref Data
          ARN: !GetAtt Data.Arn
          SUBBED: !Sub "${Data}/${Data.Arn}/${AWS::Region}/${!Literal}"
          JOINED: !Join [";", !Ref Origins]
          PICKED: !Select [1, !Split [",", "x,y,z"]]
          MODE: !If [IsProd, production, development]
          DROPPED: !If [IsProd, kept, !Ref AWS::NoValue]
          FLAG: true
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "worker-${Stage}"
      CodeUri: src/
      Handler: app.worker
      FunctionUrlConfig: {AuthType: NONE}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return tmp_path


def test_functions_buckets_globals_and_intrinsics(project):
    template = load_template(project / "template.yaml", stack_name="shop")
    assert template.buckets == ("shop-data", "shop-named-dev")
    api, worker = template.functions
    assert (api.logical_id, api.name, api.handler, api.code_dir) == ("Api", "Api", "app.handler", str(project / "src"))
    assert (api.runtime, api.timeout, api.memory_mb, api.architecture) == ("python3.12", 7.0, 512, "arm64")
    assert api.invoke_mode == STREAM and worker.invoke_mode == BUFFERED
    assert api.environment == {
        "SHARED": "global",
        "OVERRIDDEN": "mine",
        "BUCKET": "shop-data",
        "ARN": "arn:aws:s3:::shop-data",
        "SUBBED": "shop-data/arn:aws:s3:::shop-data/us-east-1/${Literal}",
        "JOINED": "a.example;b.example",
        "PICKED": "y",
        "MODE": "development",
        "FLAG": "true",
    }
    assert (worker.name, worker.memory_mb, worker.environment["SHARED"]) == ("worker-dev", 128, "global")


def test_parameter_overrides_and_conditions(project):
    template = load_template(project / "template.yaml", {"Stage": "prod"}, "shop")
    assert "shop-prodonly" in template.buckets
    api = template.functions[0]
    assert api.environment["MODE"] == "production" and api.environment["DROPPED"] == "kept"
    assert template.functions[1].name == "worker-prod"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"Stage": "qa"}, "not one of"), ({"Nope": "1"}, "unknown parameters: Nope")],
)
def test_bad_parameter_overrides_are_refused(project, overrides, message):
    with pytest.raises(TemplateError, match=message):
        load_template(project / "template.yaml", overrides)


def test_only_some_functions(project):
    template = load_template(project / "template.yaml", only=["worker-dev"])
    assert [f.logical_id for f in template.functions] == ["Worker"]
    with pytest.raises(TemplateError, match="no function Missing"):
        load_template(project / "template.yaml", only=["Missing"])


def test_unsupported_references_name_the_resource_and_property(project):
    text = TEMPLATE.replace("FLAG: true", "TABLE: !Ref Orders") + "  Orders:\n    Type: AWS::DynamoDB::Table\n"
    (project / "template.yaml").write_text(text)
    with pytest.raises(TemplateError) as error:
        load_template(project / "template.yaml")
    message = str(error.value)
    assert "Api.Properties.Environment.Variables.TABLE" in message and "AWS::DynamoDB::Table" in message
    assert "--env Api.TABLE=VALUE" in message
    served = load_template(project / "template.yaml", environment_overrides=[("Api.TABLE", "local")])
    assert "TABLE" not in served.functions[0].environment  # the command line supplies it


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        ("CodeUri: {Bucket: b, Key: k}", "code in S3 is not supported"),
        ("CodeUri: missing/", "neither a directory nor a zip"),
        ("PackageType: Image", "container image"),
        ("Handler: !ImportValue Other", "Fn::ImportValue is not supported"),
    ],
)
def test_unsupported_function_settings_are_clear_errors(project, replacement, message):
    text = TEMPLATE.replace(
        "      CodeUri: src/\n      Handler: app.handler", f"      {replacement}\n      Handler: app.handler"
    )
    if replacement.startswith("Handler"):
        text = TEMPLATE.replace("      Handler: app.handler", f"      {replacement}")
    (project / "template.yaml").write_text(text)
    with pytest.raises(TemplateError, match=message):
        load_template(project / "template.yaml")


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        ('Timeout: "abc"', r"Worker.Properties.Timeout must be a number, not 'abc'"),
        ("MemorySize: 0", r"Worker.Properties.MemorySize must be a positive number, not 0"),
        ("MemorySize: .inf", r"Worker.Properties.MemorySize must be a positive number, not inf"),
        ("Architectures: arm64", r"Worker.Properties.Architectures must be a list"),
        ("LoggingConfig: {LogFormat: Yaml}", r"Worker.Properties.LoggingConfig.LogFormat must be Text or JSON"),
        ("LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: LOUD}", r"ApplicationLogLevel must be TRACE"),
    ],
)
def test_function_properties_of_the_wrong_kind_are_named(project, replacement, message):
    text = TEMPLATE.replace(
        "      CodeUri: src/\n      Handler: app.worker",
        f"      CodeUri: src/\n      {replacement}\n      Handler: app.worker",
    )
    (project / "template.yaml").write_text(text)
    with pytest.raises(TemplateError, match=message):
        load_template(project / "template.yaml")


@pytest.mark.parametrize(
    ("config", "variables"),
    [
        (
            "{LogFormat: JSON, ApplicationLogLevel: debug}",
            {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"},
        ),
        ("{LogFormat: Text, ApplicationLogLevel: DEBUG}", {"AWS_LAMBDA_LOG_FORMAT": "Text"}),  # levels need JSON
        ("{LogGroup: /custom}", {"AWS_LAMBDA_LOG_FORMAT": "Text"}),
    ],
)
def test_logging_config_becomes_the_variables_lambda_sets(project, config, variables):
    text = TEMPLATE.replace(
        "      Handler: app.handler", f"      Handler: app.handler\n      LoggingConfig: {config}", 1
    )
    (project / "template.yaml").write_text(text)
    environment = load_template(project / "template.yaml").functions[0].environment
    assert {name: environment[name] for name in environment if name.startswith("AWS_LAMBDA_LOG")} == variables


def test_zip_code_is_unpacked_with_its_modes(project):
    archive = project / "code.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        zipped.writestr(info, "#!/bin/sh\n")
        zipped.writestr("app.py", "x = 1\n")
    (project / "template.yaml").write_text(
        TEMPLATE.replace("CodeUri: src/\n      Handler: app.handler", "CodeUri: code.zip\n      Handler: app.handler")
    )
    code_dir = Path(load_template(project / "template.yaml").functions[0].code_dir)
    assert (code_dir / "app.py").read_text() == "x = 1\n"
    assert (code_dir / "bootstrap").stat().st_mode & 0o111


def test_lambda_function_with_a_url_resource(tmp_path):
    (tmp_path / "template.json").write_text(
        '{"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "a.b", "Runtime":'
        ' "python3.13", "Code": "."}}, "Url": {"Type": "AWS::Lambda::Url", "Properties": {"TargetFunctionArn":'
        ' {"Fn::GetAtt": ["Fn", "Arn"]}, "AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM"}}}}'
    )
    (function,) = load_template(tmp_path / "template.json").functions
    assert function.invoke_mode == STREAM and function.code_dir == str(tmp_path) and function.timeout == 3.0


def test_malformed_templates_are_errors_not_tracebacks(tmp_path):
    path = tmp_path / "template.yaml"
    for text, message in [("a: [", "not valid YAML"), ("- 1", "mapping"), ("Resources: {}", "no Resources")]:
        path.write_text(text)
        with pytest.raises(TemplateError, match=message):
            load_template(path)


def resolver(**conditions: object) -> Resolver:
    return Resolver(
        Stack(
            "s",
            "eu-west-1",
            "123",
            {"P": "v", "L": ["a", "b"]},
            {"B": {"Type": "AWS::S3::Bucket"}},
            {"B": "s-b"},
            conditions,
            {"M": {"k": {"x": "found"}}},
        )
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "P"}, "v"),
        ({"Ref": "AWS::AccountId"}, "123"),
        ({"Ref": "AWS::NoValue"}, NO_VALUE),
        ({"Fn::GetAtt": ["B", "RegionalDomainName"]}, "s-b.s3.eu-west-1.amazonaws.com"),
        ({"Fn::Sub": ["${X}-${P}", {"X": {"Ref": "B"}}]}, "s-b-v"),
        ({"Fn::FindInMap": ["M", "k", "x"]}, "found"),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Fn::Select": [0, {"Fn::GetAZs": ""}]}, "eu-west-1a"),
        ([{"Ref": "AWS::NoValue"}, 1], [1]),
    ],
)
def test_intrinsics(value, expected):
    assert resolver().resolve(value, "here") == expected


@pytest.mark.parametrize(
    "value",
    [
        {"Ref": "Nope"},
        {"Fn::GetAtt": ["B", "Nope"]},
        {"Fn::Select": [5, ["a"]]},
        {"Fn::If": ["Missing", 1, 2]},
        {"Fn::Join": [","]},
        {"Fn::Transform": {}},
    ],
)
def test_unresolvable_values_say_where(value):
    with pytest.raises(UnresolvableError, match=r"^here"):
        resolver().resolve(value, "here")


def test_a_condition_that_refers_to_itself_is_an_error():
    with pytest.raises(UnresolvableError, match="refers to itself"):
        resolver(Loop={"Condition": "Loop"}).resolve({"Fn::If": ["Loop", 1, 2]}, "here")


def test_intrinsics_around_whole_properties_and_ssm_parameters(project):
    text = TEMPLATE.replace(
        """      Environment:
        Variables:
          OVERRIDDEN: mine""",
        """      Layers: !Ref LayerArns
      Environment: !If
        - IsProd
        - {Variables: {OVERRIDDEN: prod}}
        - Variables:
            OVERRIDDEN: mine""",
    ).replace(
        "  Size: {Type: Number, Default: 512}",
        "  Size: {Type: Number, Default: 512}\n"
        "  LayerArns: {Type: CommaDelimitedList, Default: 'arn:aws:lambda:us-east-1:1:layer:x:1'}",
    )
    (project / "template.yaml").write_text(text)
    template = load_template(project / "template.yaml")
    assert template.functions[0].environment["OVERRIDDEN"] == "mine"  # the !If's other branch, not nothing
    assert template.notes == (
        "Api.Properties.Layers[0]: layer arn:aws:lambda:us-east-1:1:layer:x:1 is not available locally; it is left out",
    )
    prod = load_template(project / "template.yaml", {"Stage": "prod"})
    assert prod.functions[0].environment["OVERRIDDEN"] == "prod"
    (project / "template.yaml").write_text(
        text.replace(
            "  Size: {Type: Number, Default: 512}", "  Size: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /x}"
        )
    )
    with pytest.raises(TemplateError, match="SSM Parameter Store"):
        load_template(project / "template.yaml")
    assert load_template(project / "template.yaml", {"Size": "256"}).functions[0].memory_mb == 256


def test_yaml_without_pyyaml_is_a_clear_error(project, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "yaml", None)  # as if PyYAML were not installed
    with pytest.raises(TemplateError, match="needs PyYAML"):
        load_template(project / "template.yaml")


def test_unpacked_code_lives_in_a_directory_only_this_user_can_write(project):
    archive = project / "code.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "x = 2\n")
    (project / "template.yaml").write_text(
        TEMPLATE.replace("CodeUri: src/\n      Handler: app.handler", "CodeUri: code.zip\n      Handler: app.handler")
    )
    cache = Path(load_template(project / "template.yaml").functions[0].code_dir).parent
    status = cache.stat()
    assert status.st_uid == os.getuid() and status.st_mode & 0o077 == 0
