"""The reference forward of a bundle, step by step and without any cache: what the Swift side must reproduce
(docs/bundle.md, "Reference forward"). Every tensor is float32; what crosses the wire (Z for projector runs_on
encoder, H for runs_on decoder) is rounded to the wire dtype and back, exactly once."""
import torch

from model import ConditionedSLM


@torch.no_grad()
def reference_forward(model: ConditionedSLM, prompt_ids: list, steps: int) -> dict:
    """H, the encoding as the wire delivers it, Z, the SLM's prompt-position inputs, and `steps` greedy steps
    (logits [steps, vocab] and ids). Runs all steps even past eos, so random models give full fixtures.

    runs_on encoder: projection_float32 = P = projector(H), wire = Z = wire(P) [m, d_slm], projection = Z.
    runs_on decoder: wire = Hw = wire(H) [m, d_llm], projection_float32 = projection = Z = projector(Hw), unrounded.
    """
    model.eval()
    ids = torch.tensor([prompt_ids], dtype=torch.long)  # [1, m]
    mask = torch.ones_like(ids)
    hidden = model.llm_hidden(ids, mask)  # [1, m, d_llm]
    if model.projector_runs_on == "decoder":
        wire = hidden.to(model.wire_dtype).to(torch.float32)  # [1, m, d_llm]
        projection = model.projector(wire)  # [1, m, d_slm]
        z = projection
    else:
        projection = model.projector(hidden)  # [1, m, d_slm]
        wire = projection.to(model.wire_dtype).to(torch.float32)
        z = wire
    inputs = z + model.embed(ids) if model.prompt_input == "add" else z  # [1, m, d_slm]
    generated, logits = [], []
    if model.kind == "encoder_decoder":
        encoder_hidden = model.slm.get_encoder()(inputs_embeds=inputs, attention_mask=mask).last_hidden_state
    for _ in range(steps):
        decoder_ids = torch.tensor([[model.start_id] + generated], dtype=torch.long)
        if model.kind == "encoder_decoder":
            out = model.slm(encoder_outputs=(encoder_hidden,), attention_mask=mask, decoder_input_ids=decoder_ids,
                            use_cache=False)
        else:
            out = model.slm(inputs_embeds=torch.cat([inputs, model.embed(decoder_ids)], dim=1), use_cache=False)
        step_logits = out.logits[0, -1]  # [vocab]
        logits.append(step_logits)
        generated.append(int(step_logits.argmax()))
    return {"hidden": hidden[0], "projection_float32": projection[0], "wire": wire[0], "projection": z[0],
            "slm_prompt_inputs": inputs[0], "step_logits": torch.stack(logits), "greedy_ids": generated}
