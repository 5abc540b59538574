"""Whether a stage of infra/samconfig.toml holds the parameters a deploy cannot do without.

`make deploy` asks for them (sam deploy --guided) the first time a stage is deployed and SAM
saves them in that stage's section; a later deploy of the same stage reads them from there.
Another stage's section does not count: its values are not this stage's.

    python3 samconfig_stage.py FILE STAGE   exit 0: all there; 1: names the missing ones
"""
import shlex
import sys
import tomllib

# A tuple: any one of them will do (the link's host: a template, or a custom domain whose page
# is the link, as the template's Rules say).
REQUIRED = ["SenderEmail", "SenderIdentity", ("LinkUrlTemplate", "DomainName"), "JwtIssuer", "JwtAudience"]


def saved_parameters(config: dict, stage: str) -> set:
    """The parameter names the stage's deploy section overrides (a string or a list, as SAM writes either)."""
    overrides = config.get(stage, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    items = overrides if isinstance(overrides, list) else shlex.split(overrides)
    return {item.split("=", 1)[0] for item in items if "=" in item}


def missing(config: dict, stage: str) -> list:
    saved = saved_parameters(config, stage)
    alternatives = [entry if isinstance(entry, tuple) else (entry,) for entry in REQUIRED]
    return [" or ".join(names) for names in alternatives if saved.isdisjoint(names)]


def main(argv: list) -> int:
    path, stage = argv[1], argv[2]
    with open(path, "rb") as file:
        config = tomllib.load(file)
    absent = missing(config, stage)
    if absent:
        print(f"samconfig: stage {stage} has no saved {', '.join(absent)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
