"""Runs AWS's SAM translator (the transform CloudFormation applies at deploy) over a template,
offline, as `make validate` does: cfn-lint and `sam validate --lint` do not run it, and a
template they pass can still fail the deploy's change set (e.g. "AuthorizationScopes must be
a list").

    python sam_translate.py TEMPLATE [NAME=VALUE ...]   exit 0: translated; 1: the transform's errors

Function code locations are replaced by a placeholder S3 object (what `sam deploy` uploads);
parameters without a default take the values given, else a placeholder of their kind.
"""
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

PLACEHOLDERS = {
    "SenderEmail": "no-reply@example.com",
    "SenderIdentity": "example.com",
    "LinkUrlTemplate": "https://id.example.com/ui/login/login/passwordless/init?userID={{.UserID}}"
                       "&orgID={{.OrgID}}&codeID={{.CodeID}}&code={{.Code}}",
    "JwtIssuer": "https://id.example.com",
    "JwtAudience": "123456789012345678",
}


class NoManagedPolicies:
    """The translator asks for AWS's managed policy ARNs only for policies a template names."""

    def load(self):
        return {}


def main(argv):
    template = yaml_parse(open(argv[1]).read())
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"
    params = dict(PLACEHOLDERS)
    params.update(arg.split("=", 1) for arg in argv[2:])
    try:
        out = transform(template, params, NoManagedPolicies())
    except Exception as error:  # the translator raises its own exception kinds, listed in one
        print(f"sam-translate: {argv[1]}: {error}", file=sys.stderr)
        return 1
    print(f"sam-translate: {argv[1]}: {len(out['Resources'])} CloudFormation resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
