"""distilgen.ops"""
