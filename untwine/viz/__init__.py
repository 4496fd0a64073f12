"""untwine.viz"""
