"""View tokens: a patient page's figures belong to the page view that referenced them.

One page view is one audited ``patient.read``. Its trend figures are separate requests; each
carries a token tied to this session and to the patient, version and date the page showed, so the
figure route can tell a figure of an audited view (not audited again) from any other request for
it (audited as a read of its own).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

from myositis_cds.entrypoints.web.auth import Principal

__all__ = ["view_token", "with_view_tokens"]


def view_token(principal: Principal, patient_id: int, version: int, as_of: dt.date) -> str:
    """What ties a figure request to the page view that referenced it: an HMAC, keyed with the
    session's own secret (its anti-forgery token), of the patient, version and date shown."""
    message = f"view:{patient_id}:{version}:{as_of.isoformat()}".encode()
    return hmac.new(principal.session.csrf_token.encode(), message, hashlib.sha256).hexdigest()[:32]


def with_view_tokens(html: str, principal: Principal, patient_id: int, version: int,
                     day: dt.date) -> str:
    """The page's figure URLs with this view's token (stored page views are shared by every
    user, so the token is added per request)."""
    token = view_token(principal, patient_id, version, day)
    url = re.escape(f"/patients/{patient_id}/figures/") + r"(?:ck|mmt8|titer)(?:-narrow)?\.svg\?v=" + \
        re.escape(f"{version}&amp;as_of={day.isoformat()}")
    return re.sub(f'({url})"', lambda m: f'{m.group(1)}&amp;view={token}"', html)
