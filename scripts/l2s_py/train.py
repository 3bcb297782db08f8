"""The training loop shared by the baselines and LLM-to-SLM fine-tuning: AdamW, warmup + linear decay,
gradient clipping, progress lines, periodic validation, resumable checkpoints (same batches after resume)."""
import math
import pathlib
import random
import time

import torch

from data import length_bucketed_batches
from generate import evaluate
from model import ConditionedSLM


def add_arguments(parser) -> None:
    """The training flags common to every training CLI."""
    parser.add_argument("--steps", type=int, default=0, help="optimizer steps (overrides --epochs)")
    parser.add_argument("--epochs", type=float, default=1.0, help="passes over the training set")
    parser.add_argument("--stop-after", type=int, default=0,
                        help="stop after this many steps; the learning-rate schedule still spans --steps/--epochs")
    parser.add_argument("--batch-size", type=int, default=64, help="examples per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (AdamW)")
    parser.add_argument("--warmup", type=int, default=200, help="linear warmup steps")
    parser.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation and batch order")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--log-every", type=int, default=50, help="progress line every N steps")
    parser.add_argument("--eval-every", type=int, default=500, help="validate every N steps (0: only at the end)")
    parser.add_argument("--eval-examples", type=int, default=200, help="validation examples used during training")
    parser.add_argument("--checkpoint-every", type=int, default=250, help="write the resume checkpoint every N steps")
    parser.add_argument("--resume", type=pathlib.Path, help="checkpoint to resume from (e.g. OUT/checkpoint.pt)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="generation limit in evaluation")


def total_steps(args, examples: int) -> int:
    return args.steps or max(1, math.ceil(args.epochs * examples / args.batch_size))


def run(model: ConditionedSLM, train: list, valid: list, detokenize, args, checkpoint: pathlib.Path,
        log=print) -> dict:
    """Trains the parameters of `model` that require grad; returns the last validation result."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    steps = total_steps(args, len(train))
    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, args.warmup)) * max(0.1, 1.0 - s / steps))
    step = 0
    if args.resume:
        state = torch.load(args.resume, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step = state["step"]
        torch.set_rng_state(state["torch_rng"])
        log(f"resumed from {args.resume} at step {step}/{steps}")
    log(f"training {sum(p.numel() for p in parameters):,} parameters for {steps} steps "
        f"({steps * args.batch_size / len(train):.2f} epochs of {len(train)} examples)")
    per_epoch = math.ceil(len(train) / args.batch_size)
    began, running, result = time.time(), [], {}
    first_step = step
    last = min(steps, args.stop_after) if args.stop_after else steps
    if last < steps:
        log(f"stopping after step {last} of the {steps}-step schedule (--stop-after)")
    while step < last:
        epoch, position = divmod(step, per_epoch)
        batches = length_bucketed_batches(train, args.batch_size, random.Random(args.seed * 100003 + epoch))
        for batch in batches[position:]:
            if step >= last:
                break
            model.train()
            loss = model.loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            running.append(loss.item())
            if step % args.log_every == 0 or step == last:
                elapsed = time.time() - began
                eta = elapsed / (step - first_step) * (last - step)
                log(f"step {step}/{steps} epoch {step / per_epoch:.2f} loss {sum(running) / len(running):.4f} "
                    f"lr {schedule.get_last_lr()[0]:.2e} elapsed {elapsed / 60:.1f} min eta {eta / 60:.1f} min")
                running = []
            if args.eval_every and step % args.eval_every == 0 and step < last:
                result = evaluate(model, valid[:args.eval_examples], detokenize, args.max_new_tokens)
                log(f"step {step} valid bleu {result['bleu']} exact {result['exact_match']}%")
            if step % args.checkpoint_every == 0 or step == last:
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "schedule": schedule.state_dict(), "step": step, "torch_rng": torch.get_rng_state()},
                           checkpoint)
    result = evaluate(model, valid[:args.eval_examples], detokenize, args.max_new_tokens)
    log(f"final valid bleu {result['bleu']} exact {result['exact_match']}% ({time.time() - began:.0f} s)")
    return result
