"""`python -m distilgen.testing [--host H] [--port N]`: serve a FakeOpenAI, print its base URL."""

from __future__ import annotations

import argparse

from .server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m distilgen.testing",
                                     description="An OpenAI-compatible fake server on loopback, for offline tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--api-key", default=None, help="reject other keys with 401")
    parser.add_argument("--strict-models", action="store_true", help="unknown models get 404 model_not_found")
    args = parser.parse_args(argv)
    serve(args.host, args.port, api_key=args.api_key, strict_models=args.strict_models)


if __name__ == "__main__":
    main()
