"""untwine.train"""
