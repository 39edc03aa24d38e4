"""python -m forensics.rules > docs/rules.md"""

import sys

from forensics.rules import catalogue_markdown

sys.stdout.write(catalogue_markdown())
