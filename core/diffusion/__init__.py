from core.diffusion.schedule import (SAMPLERS, DPMSolverPlusPlusScheduler, SchedulerOutput, SqrtDiffusionScheduler,
                                     make_scheduler, sqrt_alpha_bar)

__all__ = ["SAMPLERS", "DPMSolverPlusPlusScheduler", "SchedulerOutput", "SqrtDiffusionScheduler", "make_scheduler",
           "sqrt_alpha_bar"]
