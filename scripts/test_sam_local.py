"""Tests of make sam-local's pure parts: the local template (scripts/sam-local-template.py), the
Events table (docs/events.md) the check reads its statuses from (scripts/sam-local-check.py), and the public key
the local authorizer gets (local-gateway.py public-key). The whole path runs in make test's
scripts/sam-local.sh check. Run with the tools venv's Python:
  "$(scripts/tools.sh python)/python" -B -m unittest discover -s scripts -p 'test_*.py'
"""
import base64
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import unittest

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from samcli.yamlhelper import yaml_parse

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(SCRIPTS)


def load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(SCRIPTS, file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ARGS = ["--arch", "arm64", "--authorizer-arch", "x86_64", "--function-code", "/code/fn",
        "--feedback-code", "/code/feedback", "--authorizer-code", "/code/auth", "--dynamodb", "http://172.17.0.1:18100",
        "--ses", "http://172.17.0.1:18105", "--table", "t1", "--public-key", "AAAA",
        "--link-url-template", "http://localhost:3000/ui?code={code}"]


class LocalTemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ROOT, "infra", "template.yaml")) as f:
            cls.deployed = yaml_parse(f.read())
        cls.out = tempfile.NamedTemporaryFile(suffix=".yaml", delete=False).name
        subprocess.run([sys.executable, os.path.join(SCRIPTS, "sam-local-template.py"), cls.out, *ARGS],
                       check=True)
        with open(cls.out) as f:
            cls.local = yaml_parse(f.read())

    @classmethod
    def tearDownClass(cls):
        os.unlink(cls.out)

    def test_routes_and_settings_are_the_deployed_ones(self):
        fn, deployed_fn = self.local["Resources"]["Function"], self.deployed["Resources"]["Function"]
        body = self.local["Resources"]["HttpApi"]["Properties"]["DefinitionBody"]
        deployed_body = self.deployed["Resources"]["HttpApi"]["Properties"]["DefinitionBody"]
        self.assertEqual(list(body["paths"]), list(deployed_body["paths"]))
        for path, item in body["paths"].items():
            deployed_item = deployed_body["paths"][path]
            self.assertEqual(list(item), list(deployed_item), path)
            for method, definition in item.items():
                if method == "parameters":
                    self.assertEqual(definition, deployed_item[method], path)
                    continue
                # The same route, its integration written out (SAM CLI follows no $ref).
                self.assertEqual(definition.get("security"), deployed_item[method].get("security"), (method, path))
                integration = definition["x-amazon-apigateway-integration"]
                self.assertEqual(integration["type"], "aws_proxy")
                self.assertEqual(integration["payloadFormatVersion"], "2.0")
                self.assertIn("/functions/${Function.Arn}/invocations", integration["uri"]["Fn::Sub"])
        self.assertEqual(self.local["Resources"]["HttpApi"]["Properties"]["RouteSettings"],
                         self.deployed["Resources"]["HttpApi"]["Properties"]["RouteSettings"])
        for name in ("MemorySize", "Timeout", "Runtime", "Handler", "Policies"):
            self.assertEqual(fn["Properties"][name], deployed_fn["Properties"][name], name)
        deployed_vars = deployed_fn["Properties"]["Environment"]["Variables"]
        local_vars = fn["Properties"]["Environment"]["Variables"]
        for name, value in deployed_vars.items():
            # The table and the stack's name are the local ones.
            if name not in ("TABLE_NAME", "MAIL_DEPLOYMENT_TAG"):
                self.assertEqual(local_vars[name], value, name)
        self.assertEqual(local_vars["MAIL_DEPLOYMENT_TAG"], "sam-local")

    def test_cfn_lint_finds_nothing(self):
        cfn_lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
        done = subprocess.run([cfn_lint, self.out], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_local_parts_are_declared(self):
        fn = self.local["Resources"]["Function"]
        self.assertNotIn("Metadata", fn)  # a prebuilt bootstrap: nothing for sam build
        self.assertEqual(fn["Properties"]["CodeUri"], "/code/fn")
        self.assertEqual(fn["Properties"]["Architectures"], ["arm64"])
        variables = fn["Properties"]["Environment"]["Variables"]
        self.assertEqual(variables["AWS_ENDPOINT_URL_DYNAMODB"], "http://172.17.0.1:18100")
        self.assertEqual(variables["AWS_ENDPOINT_URL_SESV2"], "http://172.17.0.1:18105")
        self.assertEqual(variables["TABLE_NAME"], "t1")
        for name, parameter in self.local["Parameters"].items():
            self.assertTrue("Default" in parameter, f"{name} has no default: sam local would ask for it")

    def test_the_feedback_function_runs_its_prebuilt_bootstrap_on_the_local_table(self):
        fn = self.local["Resources"]["DeliveryFeedbackFunction"]
        deployed = self.deployed["Resources"]["DeliveryFeedbackFunction"]
        self.assertNotIn("Metadata", fn)
        self.assertEqual(fn["Properties"]["CodeUri"], "/code/feedback")
        self.assertEqual(fn["Properties"]["Architectures"], ["arm64"])
        self.assertEqual(fn["Properties"]["Environment"]["Variables"], {
            **deployed["Properties"]["Environment"]["Variables"],
            "TABLE_NAME": "t1",
            "AWS_ENDPOINT_URL_DYNAMODB": "http://172.17.0.1:18100",
        })
        for name in ("MemorySize", "Timeout", "Runtime", "Handler", "Policies", "Events"):
            self.assertEqual(fn["Properties"][name], deployed["Properties"][name], name)

    def test_sam_cli_sees_both_functions_and_their_local_variables(self):
        from samcli.lib.providers.sam_function_provider import SamFunctionProvider
        from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
        stacks, _ = SamLocalStackProvider.get_stacks(self.out)
        provider = SamFunctionProvider(stacks)
        feedback = provider.get("DeliveryFeedbackFunction")
        self.assertEqual(feedback.codeuri, "/code/feedback")
        self.assertEqual(feedback.environment["Variables"]["TABLE_NAME"], "t1")
        self.assertIsNotNone(provider.get("Function"))

    def test_the_jwt_authorizer_becomes_the_local_lambda_authorizer(self):
        auth = self.local["Resources"]["HttpApi"]["Properties"]["Auth"]
        self.assertEqual(auth["DefaultAuthorizer"], "LocalToken")
        self.assertEqual(list(auth["Authorizers"]), ["LocalToken"])
        local = auth["Authorizers"]["LocalToken"]
        self.assertEqual(local["FunctionArn"], {"Fn::GetAtt": ["LocalAuthorizer", "Arn"]})
        self.assertTrue(local["EnableSimpleResponses"])
        authorizer = self.local["Resources"]["LocalAuthorizer"]["Properties"]
        self.assertEqual(authorizer["CodeUri"], "/code/auth")
        self.assertEqual(authorizer["Architectures"], ["x86_64"])
        self.assertEqual(authorizer["Environment"]["Variables"]["LOCAL_JWT_PUBLIC_KEY"], "AAAA")
        # The anonymous page routes keep no authorizer.
        page = self.local["Resources"]["HttpApi"]["Properties"]["DefinitionBody"]["paths"]["/ui/login/login/passwordless/init"]
        self.assertEqual(page["get"]["security"], [{"NONE": []}])
        # As the template's default: no CORS (SAM CLI would read the !If as CORS on).
        self.assertIn("CorsConfiguration", self.deployed["Resources"]["HttpApi"]["Properties"])
        self.assertNotIn("CorsConfiguration", self.local["Resources"]["HttpApi"]["Properties"])

    def test_sam_cli_serves_every_route_on_the_function_the_page_alone_without_the_authorizer(self):
        from samcli.lib.providers.api_provider import ApiProvider
        from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
        # Its warning that local authorizers may differ from AWS's, which the test does not need.
        collector = logging.getLogger("samcli.lib.providers.api_collector")
        self.addCleanup(collector.setLevel, collector.level)
        collector.setLevel(logging.ERROR)
        stacks, _ = SamLocalStackProvider.get_stacks(self.out)
        served = {(method, route.path): route for route in ApiProvider(stacks).routes for method in route.methods}
        deployed = self.deployed["Resources"]["HttpApi"]["Properties"]["DefinitionBody"]["paths"]
        expected = {(method.upper(), path): definition for path, item in deployed.items()
                    for method, definition in item.items() if method != "parameters"}
        self.assertEqual(set(served), set(expected))
        for key, route in served.items():
            self.assertEqual(route.function_name, "Function", key)
            anonymous = expected[key].get("security") == [{"NONE": []}]
            self.assertEqual(route.authorizer_name, None if anonymous else "LocalToken", key)
        self.assertTrue(any(route.authorizer_name is None for route in served.values()))


class DocumentedStatusesTest(unittest.TestCase):
    def test_every_event_file_has_a_readme_status(self):
        check = load("sam_local_check", "sam-local-check.py")
        statuses = check.documented_statuses()
        files = {f for f in os.listdir(os.path.join(ROOT, "events")) if f.endswith(".json")}
        self.assertEqual(set(statuses), files)
        self.assertEqual(statuses["send-link.json"], 200)
        self.assertEqual(statuses["page-open-unknown-link.json"], 404)
        self.assertTrue(check.MAILING <= files)


class PublicKeyTest(unittest.TestCase):
    def test_public_key_verifies_the_tokens_the_gateway_signs(self):
        state = tempfile.TemporaryDirectory(prefix="sam-local-test-")
        self.addCleanup(state.cleanup)
        env = {**os.environ, "PASSKEY_STACK_DIR": state.name}
        gateway = os.path.join(SCRIPTS, "local-gateway.py")
        run = lambda *args: subprocess.run([sys.executable, gateway, *args], env=env, check=True,
                                           capture_output=True, text=True).stdout.strip()
        token = run("token", "--sub", "1", "--org", "2")
        # The DER PKCS #1 form the authorizer takes.
        key = serialization.load_der_public_key(base64.b64decode(run("public-key")))
        signed, signature = token.rsplit(".", 1)
        key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), signed.encode(),
                   padding.PKCS1v15(), hashes.SHA256())


if __name__ == "__main__":
    unittest.main()
