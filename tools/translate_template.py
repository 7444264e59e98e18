"""template.yaml -> the plain CloudFormation resources `sam deploy` would submit.

`python -m tools.translate_template OUT.json`: what checkov reads in `make check` (it knows
CloudFormation, not SAM), so every role, mapping and stage SAM generates is checked. The
translation is localcloud's (aws-sam-translator, local paths as `sam package` S3 locations).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from localcloud.cloudformation.template import Template

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    (out,) = argv
    template = Template.load(ROOT / "template.yaml")
    document = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Conditions": template.conditions,
        "Resources": template.resources,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(document, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
