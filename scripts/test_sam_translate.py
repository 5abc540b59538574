"""scripts/sam_translate.py: SAM's transform over the template, as the deploy runs it (needs the
tools' Python, whose SAM CLI brings the translator: make test runs it so)."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(SCRIPTS, "..", "infra", "template.yaml")
sys.path.insert(0, SCRIPTS)
import sam_translate  # noqa: E402


def translate(*args):
    env = dict(os.environ, AWS_DEFAULT_REGION="eu-central-1")
    return subprocess.run([sys.executable, os.path.join(SCRIPTS, "sam_translate.py"), *args],
                          env=env, capture_output=True, text=True, timeout=300)


def translated(path, *overrides) -> dict:
    with mock.patch.dict(os.environ, AWS_DEFAULT_REGION="eu-central-1"):
        return sam_translate.translate(path, list(overrides))["Resources"]


def written(test: unittest.TestCase, template: dict) -> str:
    """`template` in a file of its own (JSON is YAML), removed after the test."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        json.dump(template, f)
    test.addCleanup(os.unlink, f.name)
    return f.name


def bad_scopes_template():
    """The template with scopes from a parameter, which the deploy's transform refuses."""
    with open(TEMPLATE) as template:
        text = template.read()
    anchor = "            IdentitySource: $request.header.Authorization\n"
    assert anchor in text
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as bad:
        bad.write(text.replace(anchor, anchor + "            AuthorizationScopes: !Ref JwtAudience\n"))
    return bad.name


def function(**properties) -> dict:
    return {"Type": "AWS::Serverless::Function",
            "Properties": {"CodeUri": ".", "Handler": "bootstrap", "Runtime": "provided.al2023", **properties}}


class SamTranslateTest(unittest.TestCase):
    def test_the_template_translates(self):
        done = translate(TEMPLATE)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stderr, "")
        self.assertIn("Function's resource policy ~0.6 KB, 1 statement(s)", done.stdout)
        self.assertIn("FunctionRole's inline policies ~", done.stdout)

    def test_a_permission_per_route_is_over_the_policy_budget(self):
        # What SAM makes of HttpApi events: an AWS::Lambda::Permission each.
        events = {f"Route{i}": {"Type": "HttpApi", "Properties": {
            "ApiId": {"Ref": "Api"}, "Method": "POST", "Path": f"/zitadel.user.v2.UserService/Operation{i}"}}
            for i in range(30)}
        template = {"Transform": "AWS::Serverless-2016-10-31", "Resources": {
            "Api": {"Type": "AWS::Serverless::HttpApi"},
            "Handler": function(Events=events)}}
        done = translate(written(self, template))
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertRegex(done.stderr, r"Handler's resource policy ~\d+\.\d KB, 30 statement\(s\)")
        self.assertIn("over the budget", done.stderr)
        # A few events are within it.
        for name in list(events)[3:]:
            del events[name]
        done = translate(written(self, template))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("Handler's resource policy ~", done.stdout)

    def test_inline_role_policies_over_iams_limit_fail(self):
        statements = [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                       "Resource": {"Fn::Sub": f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/t{i}"}}
                      for i in range(100)]
        template = {"Transform": "AWS::Serverless-2016-10-31", "Resources": {
            "Handler": function(Policies=[{"Statement": statements}])}}
        done = translate(written(self, template))
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertRegex(done.stderr, r"HandlerRole's inline policies ~[\d,]+ of IAM's 10,240 characters: over")

    def test_the_api_invokes_the_functions_alias_which_codedeploy_moves_and_rolls_back(self):
        resources = translated(TEMPLATE)
        # One permission for the API, on the alias, whatever the routes.
        (permission,) = [r["Properties"] for r in resources.values()
                         if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["Principal"] == "apigateway.amazonaws.com"]
        self.assertEqual(permission["FunctionName"], {"Ref": "FunctionAliaslive"})
        self.assertEqual(permission["SourceArn"], {
            "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*"})
        alias = resources["FunctionAliaslive"]
        self.assertEqual(alias["Properties"]["Name"], "live")
        self.assertEqual(alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"], {
            "ApplicationName": {"Ref": "ServerlessDeploymentApplication"},
            "DeploymentGroupName": {"Ref": "FunctionDeploymentGroup"}})
        # Every route's integration is the one that invokes the alias.
        body = resources["HttpApi"]["Properties"]["Body"]
        (integration,) = body["components"]["x-amazon-apigateway-integrations"].values()
        self.assertEqual(integration["uri"]["Fn::Sub"][1], {"Alias": {"Ref": "FunctionAliaslive"}})
        self.assertEqual(integration["payloadFormatVersion"], "2.0")
        methods = [m for path in body["paths"].values() for name, m in path.items() if name != "parameters"]
        self.assertGreater(len(methods), 30)
        for method in methods:
            self.assertEqual(method["x-amazon-apigateway-integration"],
                             {"$ref": "#/components/x-amazon-apigateway-integrations/function"})
        self.assertEqual(resources["ServerlessDeploymentApplication"]["Type"], "AWS::CodeDeploy::Application")
        self.assertEqual(resources["CodeDeployServiceRole"]["Type"], "AWS::IAM::Role")
        group = resources["FunctionDeploymentGroup"]["Properties"]
        # The errors alarm judges a canary; all at once, none (CodeDeploy would not start in ALARM).
        self.assertEqual(group["AlarmConfiguration"], {"Fn::If": [
            "IsCanary", {"Enabled": True, "Alarms": [{"Name": {"Ref": "FunctionErrorsAlarm"}}]}, {}]})
        self.assertIn("DEPLOYMENT_STOP_ON_ALARM", group["AutoRollbackConfiguration"]["Events"])
        self.assertEqual(group["DeploymentConfigName"]["Fn::Sub"][1], {"ConfigName": "AllAtOnce"})
        canary = translated(TEMPLATE, "DeploymentType=Canary10Percent5Minutes")["FunctionDeploymentGroup"]
        self.assertEqual(canary["Properties"]["DeploymentConfigName"]["Fn::Sub"][1],
                         {"ConfigName": "Canary10Percent5Minutes"})
        # The feedback rule invokes that function's alias, moved at once (no deployment group:
        # see the template).
        (target,) = resources["DeliveryFeedbackFunctionSesEvents"]["Properties"]["Targets"]
        self.assertEqual(target["Arn"], {"Ref": "DeliveryFeedbackFunctionAliaslive"})
        self.assertNotIn("UpdatePolicy", resources["DeliveryFeedbackFunctionAliaslive"])
        self.assertEqual(resources["DeliveryFeedbackFunctionSesEventsPermission"]["Properties"]["FunctionName"],
                         {"Ref": "DeliveryFeedbackFunctionAliaslive"})

    def test_scopes_from_a_parameter_are_refused_as_the_deploy_refuses_them(self):
        bad = bad_scopes_template()
        try:
            done = translate(bad)
        finally:
            os.unlink(bad)
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("AuthorizationScopes must be a list", done.stderr)

    def test_every_documented_combination_translates(self):
        done = translate("--all", TEMPLATE)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stderr, "")
        for name in sam_translate.COMBINATIONS:
            self.assertRegex(done.stdout, rf"sam-translate: .*template\.yaml \({name}\): \d+ CloudFormation resources\n")
            self.assertRegex(done.stdout, rf"template\.yaml \({name}\): Function's resource policy ~0\.6 KB, 1 statement")

    def test_the_combinations_go_on_after_a_failure_and_fail_the_run(self):
        bad = bad_scopes_template()
        try:
            done = translate("--all", bad)
        finally:
            os.unlink(bad)
        self.assertEqual(done.returncode, 1, done.stdout)
        failures = [line for line in done.stderr.splitlines() if "AuthorizationScopes must be a list" in line]
        self.assertEqual(len(failures), len(sam_translate.COMBINATIONS), done.stderr)

    def test_the_custom_domain_maps_the_api_s_stage_at_the_root(self):
        resources = translated(TEMPLATE, *sam_translate.COMBINATIONS["custom-domain"])
        mapping = resources["ApiDomainMapping"]
        # `!Ref HttpApi.Stage` becomes the stage SAM generates: the mapping waits for it.
        stage = mapping["Properties"]["Stage"]["Ref"]
        self.assertEqual(resources[stage]["Type"], "AWS::ApiGatewayV2::Stage")
        self.assertEqual(mapping["Properties"]["ApiMappingKey"], "")
        self.assertEqual(mapping["Condition"], "HasDomain")

class ParameterPatternTest(unittest.TestCase):
    """The template's AllowedPatterns, as CloudFormation applies them (a whole-value match)."""

    def pattern(self, name):
        from samtranslator.yaml_helper import yaml_parse
        with open(TEMPLATE) as f:
            return re.compile(yaml_parse(f.read())["Parameters"][name]["AllowedPattern"])

    def test_cors_origins_are_https_or_the_developers_own_machine(self):
        cors = self.pattern("CorsAllowedOrigins")
        for good in ["", "https://console.example.com", "https://a.example:8443,http://localhost:3000",
                     "http://127.0.0.1:5173"]:
            self.assertTrue(cors.fullmatch(good), good)
        for bad in ["*", "http://console.example.com", "https://a.example/", "https://*.example.com",
                    "null", "https://a.example,", "http://localhost.evil.example"]:
            self.assertFalse(cors.fullmatch(bad), bad)


if __name__ == "__main__":
    unittest.main()
