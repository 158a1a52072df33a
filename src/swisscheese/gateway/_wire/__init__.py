"""The OpenAI chat wire format at the gateway's edge.

Two functions carry the every-byte rule: ``request_reads`` turns a request into every piece of
text the model will read (each a ``Slot``: where it sits, and the ``Content`` to screen), and
``build_completion`` builds everything the client receives from screened text alone. The
request models forbid unknown fields at every level, so nothing is forwarded unread; the
response is rebuilt field by field, so nothing the upstream adds reaches the client unscreened.
"""

from swisscheese.gateway._wire.answer import MODEL_ID as MODEL_ID
from swisscheese.gateway._wire.answer import SAFE_ID as SAFE_ID
from swisscheese.gateway._wire.answer import ChoiceOut as ChoiceOut
from swisscheese.gateway._wire.answer import answer_reads as answer_reads
from swisscheese.gateway._wire.answer import apply as apply
from swisscheese.gateway._wire.answer import build_completion as build_completion
from swisscheese.gateway._wire.answer import choices_from as choices_from
from swisscheese.gateway._wire.answer import completion_keys as completion_keys
from swisscheese.gateway._wire.answer import envelope as envelope
from swisscheese.gateway._wire.answer import joined as joined
from swisscheese.gateway._wire.answer import model_list as model_list
from swisscheese.gateway._wire.answer import refusal_completion as refusal_completion
from swisscheese.gateway._wire.answer import refuse as refuse
from swisscheese.gateway._wire.models import ChatMessage as ChatMessage
from swisscheese.gateway._wire.models import ChatRequest as ChatRequest
from swisscheese.gateway._wire.models import GuardCheckRequest as GuardCheckRequest
from swisscheese.gateway._wire.models import WatermarkDetectRequest as WatermarkDetectRequest
from swisscheese.gateway._wire.models import first_error as first_error
from swisscheese.gateway._wire.models import parts_text as parts_text
from swisscheese.gateway._wire.request import clean_json as clean_json
from swisscheese.gateway._wire.request import forward_body as forward_body
from swisscheese.gateway._wire.request import request_reads as request_reads
from swisscheese.gateway._wire.shapes import ShapeError as ShapeError
from swisscheese.gateway._wire.shapes import check_answer as check_answer
from swisscheese.gateway._wire.shapes import check_chunk as check_chunk
from swisscheese.gateway._wire.slots import Slot as Slot
from swisscheese.gateway._wire.slots import Unmappable as Unmappable
from swisscheese.gateway._wire.slots import put as put
from swisscheese.gateway._wire.slots import spelled as spelled
from swisscheese.gateway._wire.slots import tool_text as tool_text
from swisscheese.gateway._wire.stream import assemble as assemble
from swisscheese.gateway._wire.stream import chunk as chunk
from swisscheese.gateway._wire.stream import delta_of as delta_of
from swisscheese.gateway._wire.stream import rechunk as rechunk
from swisscheese.gateway._wire.stream import sse as sse
