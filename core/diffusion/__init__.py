from core.diffusion.schedule import SchedulerOutput, SqrtDiffusionScheduler, sqrt_alpha_bar

__all__ = ["SchedulerOutput", "SqrtDiffusionScheduler", "sqrt_alpha_bar"]
