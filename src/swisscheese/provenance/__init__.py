"""Provenance after deployment: signed statements for released outputs."""

from swisscheese.provenance.statements import Check as Check
from swisscheese.provenance.statements import ProvenanceError as ProvenanceError
from swisscheese.provenance.statements import StatementSigner as StatementSigner
from swisscheese.provenance.statements import answer_bundle as answer_bundle
from swisscheese.provenance.statements import compact as compact
from swisscheese.provenance.statements import from_compact as from_compact
from swisscheese.provenance.statements import make_bundle as make_bundle
from swisscheese.provenance.statements import open_statement as open_statement
from swisscheese.provenance.statements import output_statement as output_statement
from swisscheese.provenance.statements import text_sha256 as text_sha256
from swisscheese.provenance.statements import verify_bundle as verify_bundle

__all__ = [
    "Check",
    "ProvenanceError",
    "StatementSigner",
    "answer_bundle",
    "compact",
    "from_compact",
    "make_bundle",
    "open_statement",
    "output_statement",
    "text_sha256",
    "verify_bundle",
]
