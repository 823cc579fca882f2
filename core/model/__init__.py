from core.model.codefusion import CodeFusion, LossOutput

__all__ = ["CodeFusion", "LossOutput"]
