"""distilgen.train"""
