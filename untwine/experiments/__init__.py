"""untwine.experiments"""
