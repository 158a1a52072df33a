"""Operations that change a deployment: each writes the store and the flight recorder in one
call, so the log proves who halted, resumed, approved or keyed what.

Tightening (halt, deny, revoke) acts first and records after: a safeguard must not wait for the
log. Loosening (resume, approve, a new client key) is recorded first: nothing is loosened that
the log cannot prove. Either way a recorder failure raises ``RecordError`` to the caller.
"""

from swisscheese.ops._operations import Operations as Operations
from swisscheese.ops._operations import OpsError as OpsError
from swisscheese.ops._watch import APPROVAL_EXCERPT as APPROVAL_EXCERPT
from swisscheese.ops._watch import DeploymentWatch as DeploymentWatch

__all__ = ["APPROVAL_EXCERPT", "DeploymentWatch", "Operations", "OpsError"]
