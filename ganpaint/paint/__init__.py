"""Painting with concepts (runtime): concept tables (concepts), the pure edit that strokes make in the
edit layer (edit), a model folder loaded once and rendered with edits (model), image encoding
(imaging), where a stroke lands in the edit layer (footprint), and where a concept can go (placement).
"""
