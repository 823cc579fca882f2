from core.model.codefusion import CodeFusion, LossOutput

ARCHS = ("codefusion", "t5-ar")


def build_model(cfg):
    """CodeFusion, or the autoregressive T5 baseline (cfg.arch == "t5-ar")."""
    if cfg.arch == "t5-ar":
        from core.model.ar import ARBaseline

        return ARBaseline(cfg)
    return CodeFusion(cfg)


__all__ = ["ARCHS", "CodeFusion", "LossOutput", "build_model"]
