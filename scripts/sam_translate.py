"""Runs AWS's SAM translator (the transform CloudFormation applies at deploy) over a template,
offline, as `make validate` does: cfn-lint and `sam validate --lint` do not run it, and a
template they pass can still fail the deploy's change set (e.g. "AuthorizationScopes must be
a list").

    python sam_translate.py TEMPLATE [NAME=VALUE ...]   exit 0: translated; 1: the transform's errors
    python sam_translate.py --all TEMPLATE              each of COMBINATIONS, one line each

Function code locations are replaced by a placeholder S3 object (what `sam deploy` uploads);
parameters without a default take the values given, else a placeholder of their kind.
"""
import logging
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

PLACEHOLDERS = {
    "SenderEmail": "no-reply@example.com",
    "SenderIdentity": "example.com",
    "LinkUrlTemplate": "https://id.example.com/ui/login/login/passwordless/init?userID={userID}"
                       "&orgID={orgID}&codeID={codeID}&code={code}",
    "JwtIssuer": "https://id.example.com",
    "JwtAudience": "123456789012345678",
}

# infra/template.yaml's parameter combinations that docs/deploying.md and docs/configuration.md
# document: a condition's resources and references are translated only where it holds.
COMBINATIONS = {
    "defaults": [],
    "custom-domain": ["DomainName=passkeys.example.com", "LinkUrlTemplate=",
                      "CertificateArn=arn:aws:acm:eu-central-1:123456789012:certificate/"
                      "0a1b2c3d-4e5f-6789-abcd-ef0123456789"],
    "custom-domain-dns": ["DomainName=passkeys.example.com", "LinkUrlTemplate=",
                          "CertificateArn=arn:aws:acm:eu-central-1:123456789012:certificate/"
                          "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
                          "HostedZoneId=Z0123456789ABCDEFGHIJ", "WebAuthnRpId=example.com"],
    "kms-key": ["KmsKeyArn=arn:aws:kms:eu-central-1:123456789012:key/"
                "0a1b2c3d-4e5f-6789-abcd-ef0123456789"],
    "feedback-disabled": ["DeliveryFeedback=disabled"],
    "configuration-set": ["SesConfigurationSet=passkeys"],
    "configuration-set-feedback-disabled": ["SesConfigurationSet=passkeys", "DeliveryFeedback=disabled"],
    "alarm-email": ["AlarmEmail=ops@example.com"],
    "reserved-concurrency": ["ReservedConcurrency=10"],
    "prod": ["Stage=prod"],
}


class NoManagedPolicies:
    """The translator asks for AWS's managed policy ARNs only for policies a template names."""

    def load(self):
        return {}


def main(argv, label=""):
    template = yaml_parse(open(argv[1]).read())
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"
    params = dict(PLACEHOLDERS)
    params.update(arg.split("=", 1) for arg in argv[2:])
    try:
        out = transform(template, params, NoManagedPolicies())
    except Exception as error:  # the translator raises its own exception kinds, listed in one
        print(f"sam-translate: {argv[1]}{label}: {error}", file=sys.stderr)
        return 1
    print(f"sam-translate: {argv[1]}{label}: {len(out['Resources'])} CloudFormation resources")
    return 0


def main_all(argv):
    """Every combination, all of them even after a failure: exit 1 if any failed."""
    # The translator records metrics per run and warns about them unpublished; nothing here
    # publishes them.
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)
    failed = [name for name, args in COMBINATIONS.items() if main([argv[0], argv[2], *args], f" ({name})")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main_all(sys.argv) if sys.argv[1:2] == ["--all"] else main(sys.argv))
