"""Predicted customer lifetime value and churn risk: BG/NBD + Gamma-Gamma (pymc-marketing)."""
