"""distilgen.evals"""
