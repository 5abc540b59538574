"""Runs AWS's SAM translator (the transform CloudFormation applies at deploy) over a template,
offline, as `make validate` does: cfn-lint and `sam validate --lint` do not run it, and a
template they pass can still fail the deploy's change set (e.g. "AuthorizationScopes must be
a list").

    python sam_translate.py TEMPLATE [NAME=VALUE ...]   exit 0: translated; 1: the transform's
                                                        errors, or a policy over its size budget
    python sam_translate.py --all TEMPLATE              each of COMBINATIONS, the same

Function code locations are replaced by a placeholder S3 object (what `sam deploy` uploads);
parameters without a default take the values given, else a placeholder of their kind.

From the translated template it also sizes what the deploy cannot grow past, and fails above:
- each function's resource policy, the statements of the AWS::Lambda::Permission resources
  naming it (its aliases' too), against POLICY_BUDGET: half of Lambda's 20 KB, where adding a
  permission fails ("The final policy size ... is bigger than the limit"). SAM makes one such
  permission for every API event of a function, ~450 bytes each, so ~45 routes as events came
  near the limit;
- each role's inline policies together against IAM's 10,240 characters.
Sizes are estimates on the high side, each statement rendered as Lambda (or IAM) stores it with
every value the template leaves to the deploy at a generous length (LONGEST, UNKNOWN_*).
"""
import json
import logging
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

# Lambda's limit on a function's resource policy, and the share of it a template may use.
POLICY_LIMIT = 20 * 1024
POLICY_BUDGET = POLICY_LIMIT // 2
# IAM's limit on a role's inline policies together (whitespace not counted).
ROLE_POLICY_LIMIT = 10_240
# The longest value each pseudo parameter takes; other references and attributes as long as
# the names (64) and ARNs (200) they stand for may be; a permission's Sid (the physical id
# CloudFormation gives it: stack name, logical id, random suffix) up to Lambda's 100.
LONGEST = {
    "AWS::Partition": "aws-iso-b",
    "AWS::Region": "ap-southeast-7",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com.cn",
    "AWS::StackName": "s" * 128,
    "AWS::StackId": "s" * 200,
}
UNKNOWN_NAME = "n" * 64
UNKNOWN_ARN = "a" * 200
SID = "i" * 100
NO_VALUE = object()

# The translator warns on stderr that its feature toggles (AWS's own configuration, which the
# deploy's transform has and an offline run does not) are unknown, and that nobody publishes
# its metrics; the template keeps clear of what the toggles switch (the feedback function's
# DeploymentPreference, infra/template.yaml).
logging.getLogger("samtranslator.feature_toggle").setLevel(logging.ERROR)
logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)


class NoManagedPolicies:
    """The translator asks for AWS's managed policy ARNs only for policies a template names."""

    def load(self):
        return {}


def longest(value):
    """`value` with each intrinsic function replaced by the longest text it may become (the
    larger branch of an `Fn::If`, NO_VALUE for `AWS::NoValue`)."""
    if isinstance(value, list):
        return [v for v in map(longest, value) if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (name, arg), = value.items()
        if name == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else LONGEST.get(arg, UNKNOWN_NAME)
        if name == "Fn::GetAtt":
            return UNKNOWN_ARN
        if name == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            for variable, sub in variables.items():
                text = text.replace(f"${{{variable}}}", str(longest(sub)))
            for pseudo, sub in LONGEST.items():
                text = text.replace(f"${{{pseudo}}}", sub)
            while "${" in text:
                start = text.index("${")
                reference = text[start + 2:text.index("}", start)]
                text = text.replace(f"${{{reference}}}", UNKNOWN_ARN if "." in reference else UNKNOWN_NAME)
            return text
        if name == "Fn::Join":
            return arg[0].join(str(v) for v in longest(arg[1]))
        if name == "Fn::If":
            branches = [longest(arg[1]), longest(arg[2])]
            return max(branches, key=lambda b: 0 if b is NO_VALUE else len(compact(b)))
        if name.startswith("Fn::"):
            return UNKNOWN_NAME
    return {k: v for k, v in ((k, longest(v)) for k, v in value.items()) if v is not NO_VALUE}


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def permission_statement(props: dict, function_arn: str) -> dict:
    """A permission as Lambda stores it in the function's policy."""
    principal = longest(props["Principal"])
    statement = {
        "Sid": SID,
        "Effect": "Allow",
        "Principal": {"Service": principal} if "." in principal else {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": longest(props["Action"]),
        "Resource": function_arn,
    }
    condition = {}
    if "SourceAccount" in props:
        condition["StringEquals"] = {"AWS:SourceAccount": longest(props["SourceAccount"])}
    if "SourceArn" in props:
        condition["ArnLike"] = {"AWS:SourceArn": longest(props["SourceArn"])}
    if condition:
        statement["Condition"] = condition
    return statement


def function_of(name, resources: dict):
    """The function (logical id) and qualifier a permission's FunctionName names."""
    if isinstance(name, dict) and ("Ref" in name or "Fn::GetAtt" in name):
        target = name["Ref"] if "Ref" in name else name["Fn::GetAtt"][0]
        resource = resources.get(target, {})
        if resource.get("Type") in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            function, _ = function_of(resource["Properties"]["FunctionName"], resources)
            qualifier = resource["Properties"].get("Name", "1234567890")
            return function, qualifier
        return target, None
    return compact(name), None


def resource_policy_sizes(resources: dict) -> dict:
    """function -> (statements, estimated bytes of its resource policy, all qualifiers summed)."""
    statements = {}
    for resource in resources.values():
        if resource.get("Type") != "AWS::Lambda::Permission":
            continue
        props = resource["Properties"]
        function, qualifier = function_of(props["FunctionName"], resources)
        arn = (f"arn:{LONGEST['AWS::Partition']}:lambda:{LONGEST['AWS::Region']}:{LONGEST['AWS::AccountId']}"
               f":function:{UNKNOWN_NAME}" + (f":{qualifier}" if qualifier else ""))
        statements.setdefault(function, []).append(permission_statement(props, arn))
    return {function: (len(s), len(compact({"Version": "2012-10-17", "Id": "default", "Statement": s})))
            for function, s in statements.items()}


def role_policy_sizes(resources: dict) -> dict:
    """role -> estimated characters of its inline policies together."""
    sizes = {}
    for name, resource in resources.items():
        if resource.get("Type") == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                sizes[name] = sizes.get(name, 0) + len(compact(longest(policy["PolicyDocument"])))
    for resource in resources.values():
        if resource.get("Type") == "AWS::IAM::Policy":
            for role in resource["Properties"]["Roles"]:
                if isinstance(role, dict) and "Ref" in role:
                    size = len(compact(longest(resource["Properties"]["PolicyDocument"])))
                    sizes[role["Ref"]] = sizes.get(role["Ref"], 0) + size
    return sizes


def check_policy_sizes(path: str, resources: dict) -> bool:
    """Prints each size against its limit; False when one is over."""
    fine = True
    for function, (count, size) in sorted(resource_policy_sizes(resources).items()):
        line = (f"{function}'s resource policy ~{size / 1024:.1f} KB, {count} statement(s)"
                f" (AWS::Lambda::Permission), of a {POLICY_BUDGET // 1024} KB budget"
                f" (Lambda's limit: {POLICY_LIMIT // 1024} KB)")
        if size > POLICY_BUDGET:
            fine = False
            print(f"sam-translate: {path}: {line}: over the budget; give the API one permission for"
                  " all its routes rather than one per route (an event each)", file=sys.stderr)
        else:
            print(f"sam-translate: {path}: {line}")
    for role, size in sorted(role_policy_sizes(resources).items()):
        line = f"{role}'s inline policies ~{size:,} of IAM's {ROLE_POLICY_LIMIT:,} characters"
        if size > ROLE_POLICY_LIMIT:
            fine = False
            print(f"sam-translate: {path}: {line}: over the limit", file=sys.stderr)
        else:
            print(f"sam-translate: {path}: {line}")
    return fine


def translate(path: str, overrides: list) -> dict:
    """The CloudFormation template the transform makes of the template at `path`."""
    with open(path) as f:
        template = yaml_parse(f.read())
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"
    params = dict(PLACEHOLDERS)
    params.update(arg.split("=", 1) for arg in overrides)
    return transform(template, params, NoManagedPolicies())


def main(argv, label=""):
    name = f"{argv[1]}{label}"
    try:
        out = translate(argv[1], argv[2:])
    except Exception as error:  # the translator raises its own exception kinds, listed in one
        print(f"sam-translate: {name}: {error}", file=sys.stderr)
        return 1
    print(f"sam-translate: {name}: {len(out['Resources'])} CloudFormation resources")
    return 0 if check_policy_sizes(name, out["Resources"]) else 1


def main_all(argv):
    """Every combination, all of them even after a failure: exit 1 if any failed."""
    failed = [name for name, args in COMBINATIONS.items() if main([argv[0], argv[2], *args], f" ({name})")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main_all(sys.argv) if sys.argv[1:2] == ["--all"] else main(sys.argv))
