"""scripts/samconfig_stage.py: a stage deploys without questions only with its own parameters."""
import os
import subprocess
import tomllib
import unittest

from samconfig_stage import missing

SAVED = ('SenderEmail=no-reply@example.com SenderIdentity=example.com '
         '"LinkUrlTemplate=https://id.example.com/init?u={{.UserID}}&c={{.Code}}" '
         'JwtIssuer=https://id.example.com JwtAudience=123')


class StageParametersTest(unittest.TestCase):
    def config(self, text):
        return tomllib.loads(text)

    def test_another_stages_parameters_do_not_count(self):
        # After a guided deploy of the default stage, staging still has to be asked for.
        config = self.config(f"""
[default.deploy.parameters]
parameter_overrides = '{SAVED}'
[staging.deploy.parameters]
parameter_overrides = "Stage=staging LogLevel=info"
""")
        self.assertEqual(missing(config, "default"), [])
        self.assertEqual(missing(config, "staging"),
                         ["SenderEmail", "SenderIdentity", "LinkUrlTemplate or DomainName", "JwtIssuer",
                          "JwtAudience"])
        self.assertEqual(len(missing(config, "prod")), 5)

    def test_sam_may_save_the_overrides_as_a_list(self):
        config = {"prod": {"deploy": {"parameters": {"parameter_overrides": [
            "SenderEmail=a@b.c", "SenderIdentity=b.c", "LinkUrlTemplate=https://x/{{.Code}}",
            "JwtIssuer=https://x", "JwtAudience=1"]}}}}
        self.assertEqual(missing(config, "prod"), [])

    def test_a_custom_domain_stands_for_the_link(self):
        config = {"prod": {"deploy": {"parameters": {"parameter_overrides": [
            "SenderEmail=a@b.c", "SenderIdentity=b.c", "DomainName=passkeys.example.com",
            "CertificateArn=arn:aws:acm:eu-central-1:123456789012:certificate/1", "JwtIssuer=https://x",
            "JwtAudience=1"]}}}}
        self.assertEqual(missing(config, "prod"), [])

    def test_the_committed_file_asks_for_every_stage(self):
        committed = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "infra", "samconfig.toml")
        with open(committed, "rb") as f:
            config = tomllib.load(f)
        for stage in ["default", "staging", "prod"]:
            self.assertEqual(len(missing(config, stage)), 5, stage)



class DeployStageTest(unittest.TestCase):
    def test_a_stage_samconfig_does_not_know_is_refused_before_anything_runs(self):
        # `dev` is the default stage: taken as its own, it would deploy a second stack.
        infra = os.path.join(os.path.dirname(os.path.abspath(__file__)), "infra.sh")
        done = subprocess.run(["bash", infra, "deploy"], env=dict(os.environ, STAGE="dev", CI="true"),
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        self.assertIn("STAGE is default (the dev stage), staging or prod, not 'dev'", done.stderr)


if __name__ == "__main__":
    unittest.main()
