"""distilgen.testing"""
