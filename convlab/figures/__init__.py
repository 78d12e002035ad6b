"""Figures: every figure's caption and alt text (`captions`) and the plots drawn from records and tables (`plots`,
`protocol_plots`).

May import the packages below it, up to `analysis`.
"""
