from acme_sdk import AcmeObject
from declared_sdk import DeclaredBase
from pydantic_settings import BaseSettings
from sqlmodel import SQLModel


class Settings(BaseSettings):
    debug: bool = False


class Row(SQLModel):
    id: int = 0


class Thing(AcmeObject):
    a: int = 0


class Declared(DeclaredBase):
    b: int = 0


def settings(env: str) -> Settings:
    return Settings()


def row(i: int) -> Row:
    return Row(id=i)


def sdk_thing(a: int) -> Thing:
    return Thing(a=a)


def sdk_direct(a: int) -> AcmeObject:
    return AcmeObject()


def declared(b: int) -> Declared:
    return Declared(b=b)
