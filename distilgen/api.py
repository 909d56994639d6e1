"""The library's verbs. The CLI is a thin layer over these; nothing here imports click.

Each verb takes plain arguments and returns frozen result records (or raises a DistilgenError
subclass whose message names the file, line or argument at fault).
"""

from __future__ import annotations

# Sections below are filled by each layer; keep imports inside the functions that need heavy
# modules (libcst, torch) so `distilgen --help` stays fast.

# --- scan / config -----------------------------------------------------------------------------
# --- end scan / config -------------------------------------------------------------------------

# --- apply / stubs -----------------------------------------------------------------------------
# --- end apply / stubs -------------------------------------------------------------------------

# --- prompts / check ---------------------------------------------------------------------------
# --- end prompts / check -----------------------------------------------------------------------

# --- dataset / jobs / files --------------------------------------------------------------------
# --- end dataset / jobs / files ----------------------------------------------------------------

# --- train / serve -----------------------------------------------------------------------------
# --- end train / serve -------------------------------------------------------------------------

# --- generate / eval ---------------------------------------------------------------------------
# --- end generate / eval -----------------------------------------------------------------------
