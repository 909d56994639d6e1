"""distilgen.analysis"""
