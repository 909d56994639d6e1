"""What names a credential: one rule for the scan (parameters, model fields) and for capture (the
keys of a dict argument or answer, the text of a skipped example's warning).

Every captured call is written, in clear, into a file meant to be uploaded to a fine-tuning
service, so a value under such a name must never reach a dataset line or a log line.
"""

from __future__ import annotations

import re

__all__ = ["CREDENTIAL_NAME", "CREDENTIAL_ENDS", "is_credential_name"]

# wave 6: together's `api_key`; wave 10: aiogram's `Bot(token=...)`-style `token`, alpaca-py's
# `api_token`/`bearer`: a `token` alone or after a word that makes it a credential, never one that
# makes it data (`page_token`, `next_page_token`, `eos_token`, `tokens`, `max_tokens`, `token_type`).
# wave 12: supabase-auth's `email_otp`, `hashed_token` of a magic link, `recovery_code`,
# `totp_secret_b32`, datachain's `aws_secret_access_key`: a one-time code, a link's token, and
# `secret` anywhere in the name but where the name says it names or locates a secret
# (`secret_name`, `secret_arn`)
CREDENTIAL_NAME = re.compile(r"(?:^|_)(?:api_?key|access_?token|refresh_?token|auth_?token|bearer_?token|"
                             r"id_?token|secret|client_?secret|secret_?key|password|passwd|passphrase|"
                             r"private_?key|credentials?|bearer|(?:api|bot|session|oauth2?|jwt|app|user|secret|"
                             r"personal_access|security|github|gh|hf|slack|discord|telegram|hashed|magic|"
                             r"verification|confirmation|reset|recovery|invite|invitation|csrf|xsrf)_?token|jwt|otp|"
                             r"(?:recovery|backup|otp|totp|mfa|2fa|verification|auth|authorization)_?codes?)$|^token$|"
                             r"(?:^|_)secrets?(?:$|_(?!(?:name|id|arn|ref|path|type|kind|version|count|manager|store|"
                             r"scope|provider|backend|length|len)s?$))",
                             re.IGNORECASE)

# what every name CREDENTIAL_NAME matches ends with, or "secret" is in (one C call spares most
# names the regex)
CREDENTIAL_ENDS = ("key", "token", "secret", "password", "passwd", "passphrase", "credential", "credentials", "jwt",
                   "bearer", "otp", "code", "codes")


def is_credential_name(name: str, *, bare_token: bool = True) -> bool:
    """Whether `name` (leading underscores aside) names a credential. `bare_token=False` for a
    field of a model or an answer's key, where a `token` alone is data more often (llama-index's
    `LogProb.token`); a parameter or a dict argument's key called `token` is a credential."""
    bare = name.lstrip("_")
    low = bare.lower()
    if not (low.endswith(CREDENTIAL_ENDS) or "secret" in low) or not CREDENTIAL_NAME.search(bare):
        return False
    return bare_token or low != "token"
