"""distilgen.codemods"""
