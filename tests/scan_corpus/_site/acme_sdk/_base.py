import pydantic


class _Internal(pydantic.BaseModel):
    pass


class AcmeObject(_Internal):
    """The SDK's own base model, two levels above pydantic.BaseModel."""
