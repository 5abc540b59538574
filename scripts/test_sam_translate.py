"""scripts/sam_translate.py: SAM's transform over the template, as the deploy runs it (needs the
tools' Python, whose SAM CLI brings the translator: make test runs it so)."""
import os
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

import sam_translate

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(SCRIPTS, "..", "infra", "template.yaml")


def translate(*args):
    env = dict(os.environ, AWS_DEFAULT_REGION="eu-central-1")
    return subprocess.run([sys.executable, os.path.join(SCRIPTS, "sam_translate.py"), *args],
                          env=env, capture_output=True, text=True, timeout=300)


def bad_scopes_template():
    """The template with scopes from a parameter, which the deploy's transform refuses."""
    with open(TEMPLATE) as template:
        text = template.read()
    anchor = "            IdentitySource: $request.header.Authorization\n"
    assert anchor in text
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as bad:
        bad.write(text.replace(anchor, anchor + "            AuthorizationScopes: !Ref JwtAudience\n"))
    return bad.name


class SamTranslateTest(unittest.TestCase):
    def test_the_template_translates(self):
        done = translate(TEMPLATE)
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_scopes_from_a_parameter_are_refused_as_the_deploy_refuses_them(self):
        bad = bad_scopes_template()
        try:
            done = translate(bad)
        finally:
            os.unlink(bad)
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("AuthorizationScopes must be a list", done.stderr)

    def test_every_documented_combination_translates_one_line_each(self):
        done = translate("--all", TEMPLATE)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stderr, "")
        lines = done.stdout.splitlines()
        self.assertEqual(len(lines), len(sam_translate.COMBINATIONS), done.stdout)
        for name, line in zip(sam_translate.COMBINATIONS, lines):
            self.assertRegex(line, rf"^sam-translate: .*template\.yaml \({name}\): \d+ CloudFormation resources$")

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
        with open(TEMPLATE) as text:
            template = yaml_parse(text.read())
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Serverless::Function":
                resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"
        params = dict(sam_translate.PLACEHOLDERS)
        params.update(arg.split("=", 1) for arg in sam_translate.COMBINATIONS["custom-domain"])
        with mock.patch.dict(os.environ, AWS_DEFAULT_REGION="eu-central-1"):
            resources = transform(template, params, sam_translate.NoManagedPolicies())["Resources"]
        mapping = resources["ApiDomainMapping"]
        # `!Ref HttpApi.Stage` becomes the stage SAM generates: the mapping waits for it.
        stage = mapping["Properties"]["Stage"]["Ref"]
        self.assertEqual(resources[stage]["Type"], "AWS::ApiGatewayV2::Stage")
        self.assertEqual(mapping["Properties"]["ApiMappingKey"], "")
        self.assertEqual(mapping["Condition"], "HasDomain")


if __name__ == "__main__":
    unittest.main()
