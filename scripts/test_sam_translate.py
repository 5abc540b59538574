"""scripts/sam_translate.py: SAM's transform over the template, as the deploy runs it (needs the
tools' Python, whose SAM CLI brings the translator: make test runs it so)."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(SCRIPTS, "..", "infra", "template.yaml")


def translate(path):
    env = dict(os.environ, AWS_DEFAULT_REGION="eu-central-1")
    return subprocess.run([sys.executable, os.path.join(SCRIPTS, "sam_translate.py"), path],
                          env=env, capture_output=True, text=True, timeout=120)


class SamTranslateTest(unittest.TestCase):
    def test_the_template_translates(self):
        done = translate(TEMPLATE)
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_scopes_from_a_parameter_are_refused_as_the_deploy_refuses_them(self):
        text = open(TEMPLATE).read()
        anchor = "            IdentitySource: $request.header.Authorization\n"
        self.assertIn(anchor, text)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as bad:
            bad.write(text.replace(anchor, anchor + "            AuthorizationScopes: !Ref JwtAudience\n"))
        try:
            done = translate(bad.name)
        finally:
            os.unlink(bad.name)
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("AuthorizationScopes must be a list", done.stderr)


if __name__ == "__main__":
    unittest.main()
