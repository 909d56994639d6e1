"""distilgen.runtime"""
