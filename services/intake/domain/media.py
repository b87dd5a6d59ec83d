"""A report's photos and videos are checked by the shared runtime (paht.runtime.media): the one home of the content
checks, which handling uses for its attachments too. Intake accepts photos and videos only (`MEDIA`)."""
from paht.runtime.media import (  # noqa: F401
    ACCEPTED, ACCEPTED_VI, MEDIA, SNIFF_BYTES, CheckedFile, MediaLimits, Sniffed, examine, refuse_empty, refuse_too_large, sniff,
)
