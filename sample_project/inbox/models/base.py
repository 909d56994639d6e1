from pydantic import BaseModel as PydanticModel
from pydantic import ConfigDict


class InboxModel(PydanticModel):
    """Every inbox model forbids unknown fields, so a model that invents one is caught."""

    model_config = ConfigDict(extra="forbid")
