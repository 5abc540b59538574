#!/usr/bin/env python3
"""Writes the local template `sam local invoke` / `start-api` run (make sam-local), derived from
infra/template.yaml so that its routes, variables and settings cannot drift from what is
deployed. What it changes, and why:

- the functions' code is a folder holding a prebuilt `bootstrap` (no `sam build`), for ARCH:
  --function-code for the API's function, --feedback-code for DeliveryFeedbackFunction (which
  `sam local invoke DeliveryFeedbackFunction -e <EventBridge event>` runs; start-api ignores its
  EventBridge rule). Its configuration set, dead-letter queue and alarms stay in the template:
  SAM CLI ignores resources it cannot run, and they keep the template valid;
- the variables the local stack needs are declared (SAM's --env-vars sets only declared ones):
  the emulators' endpoints, the table, and demo limits as `make dev` has them;
- the required parameters get demo defaults, so no --parameter-overrides is needed, and so do
  SenderName (`Passkeys`, as `make dev`'s sender) and PageRateLimitPerSource (1000, as `make dev`:
  every call comes from one address); LinkUrlTemplate loses its https-only pattern (the local
  page is http://localhost, where browsers allow WebAuthn on plain http);
- the HTTP API's JWT authorizer, which SAM CLI does not run, becomes a Lambda authorizer
  (src/bin/local-authorizer.rs) that checks the local gateway's tokens (scripts/local-gateway.py),
  with the gateway's rules (no scope is required, as on the deployed authorizer);
- each route of the API's OpenAPI body gets its own copy of the one integration the routes
  share by `$ref` (SAM CLI follows no `$ref`), naming the function in the form SAM CLI reads
  (sam_cli_uri).

  sam-local-template.py OUT --arch arm64|x86_64 --function-code DIR --feedback-code DIR \\
      --authorizer-code DIR --dynamodb URL --ses URL --table NAME --public-key B64 \\
      --link-url-template URL
"""
import argparse
import os
import sys

from samcli.yamlhelper import yaml_dump, yaml_parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# scripts/local-gateway.py's token issuer and audience.
ISSUER = "http://127.0.0.1/local-gateway"
AUDIENCE = "passkey-api"


def sam_cli_uri(uri: dict) -> dict:
    """`!Sub [TEXT, {NAME: !Ref FUNCTION.Alias}]` as `!Sub TEXT` with `${FUNCTION.Arn}` in place of
    `${NAME}`: the one form whose function SAM CLI finds (it resolves `.Arn` to an ARN it reads the
    name from, and a `.Alias` to no ARN at all); sam local runs the function itself, alias or not."""
    text, variables = uri["Fn::Sub"]
    for name, value in variables.items():
        function = value["Ref"].removesuffix(".Alias")
        text = text.replace(f"${{{name}}}", f"${{{function}.Arn}}")
    return {"Fn::Sub": text}


def inline_integrations(body: dict):
    shared = body["components"]["x-amazon-apigateway-integrations"]
    for path in body["paths"].values():
        for method in path.values():
            if isinstance(method, dict) and "x-amazon-apigateway-integration" in method:
                name = method["x-amazon-apigateway-integration"]["$ref"].rsplit("/", 1)[1]
                integration = dict(shared[name])
                integration["uri"] = sam_cli_uri(integration["uri"])
                method["x-amazon-apigateway-integration"] = integration


def local_template(template: dict, args) -> dict:
    defaults = {
        "SenderEmail": "no-reply@demo.example",
        "SenderName": "Passkeys",
        "SenderIdentity": "demo.example",
        "LinkUrlTemplate": args.link_url_template,
        "JwtIssuer": "https://unused.invalid",
        "JwtAudience": AUDIENCE,
        "PageRateLimitPerSource": 1000,
    }
    for name, value in defaults.items():
        template["Parameters"][name]["Default"] = value
    template["Parameters"]["LinkUrlTemplate"].pop("AllowedPattern", None)

    resources = template["Resources"]
    function = resources["Function"]
    function.pop("Metadata", None)
    props = function["Properties"]
    props["CodeUri"] = args.function_code
    props["Architectures"] = [args.arch]
    variables = props["Environment"]["Variables"]
    variables.update({
        "TABLE_NAME": args.table,
        "AWS_ENDPOINT_URL_DYNAMODB": args.dynamodb,
        "AWS_ENDPOINT_URL_SESV2": args.ses,
        # As `make dev` has it: the demo sends to the same few users again and again.
        "RATE_LIMIT_LINKS": "100",
        # A plain value for the stack name the template refers to.
        "MAIL_DEPLOYMENT_TAG": "sam-local",
    })

    feedback = resources["DeliveryFeedbackFunction"]
    feedback.pop("Metadata", None)
    feedback_props = feedback["Properties"]
    feedback_props["CodeUri"] = args.feedback_code
    feedback_props["Architectures"] = [args.arch]
    feedback_props["Environment"]["Variables"].update({
        "TABLE_NAME": args.table,
        "AWS_ENDPOINT_URL_DYNAMODB": args.dynamodb,
    })

    resources["LocalAuthorizer"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": args.authorizer_code,
            "Handler": "bootstrap",
            "Runtime": "provided.al2023",
            # The host's own architecture: it only guards the local API.
            "Architectures": [args.authorizer_arch],
            "MemorySize": 128,
            "Timeout": 5,
            "Environment": {"Variables": {
                "LOCAL_JWT_PUBLIC_KEY": args.public_key,
                "LOCAL_JWT_ISSUER": ISSUER,
                "LOCAL_JWT_AUDIENCE": AUDIENCE,
                "RUST_LOG": "info",
            }},
        },
    }
    inline_integrations(resources["HttpApi"]["Properties"]["DefinitionBody"])
    # SAM CLI cannot evaluate the !If around the CORS settings and would answer OPTIONS on every
    # route; the template's default (no CorsAllowedOrigins) is no CORS, as here.
    resources["HttpApi"]["Properties"].pop("CorsConfiguration", None)
    template["Conditions"].pop("HasCors", None)
    auth = resources["HttpApi"]["Properties"]["Auth"]
    auth["DefaultAuthorizer"] = "LocalToken"
    auth["Authorizers"] = {"LocalToken": {
        "FunctionArn": {"Fn::GetAtt": ["LocalAuthorizer", "Arn"]},
        "AuthorizerPayloadFormatVersion": "2.0",
        "EnableSimpleResponses": True,
        "Identity": {"Headers": ["Authorization"]},
    }}
    return template


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--arch", choices=["arm64", "x86_64"], required=True)
    parser.add_argument("--authorizer-arch", choices=["arm64", "x86_64"], required=True)
    for name in ["function-code", "feedback-code", "authorizer-code", "dynamodb", "ses", "table",
                 "public-key", "link-url-template"]:
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    with open(os.path.join(ROOT, "infra", "template.yaml")) as f:
        template = yaml_parse(f.read())
    text = ("# Written by scripts/sam-local-template.py from infra/template.yaml (make sam-local);\n"
            "# not for deploying.\n" + yaml_dump(local_template(template, args)))
    tmp = f"{args.out}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
