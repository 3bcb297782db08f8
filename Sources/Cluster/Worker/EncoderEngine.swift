import Foundation
import Metrics
import Models
import Wire

/// The encoder service's compute side: batches concurrent encode requests (up to `maxBatch`, waiting at most
/// `batchWait` for a batch to fill), runs the frozen LLM encoder (and the projector, for `runs_on: encoder`) over
/// them, and replies with each prompt's encoding in the bundle's wire dtype: Z [m, d_slm], or H [m, d_llm] with
/// `projected` false when the bundle projects on the decoder. With batch-invariant kernels (the default) a batch's
/// prompts run one by one, and `SendPolicy` says whether each encoding leaves when its pass ends or with the batch.
public final class EncoderEngine: WorkerEngine, Sendable {
    /// When a batch's encodings are sent (`l2s encoder --send`).
    public enum SendPolicy: String, Sendable {
        /// Each as soon as its own pass ends: the first prompt of a batch does not wait for the others' passes, and
        /// decoders on other nodes start on it while the encoder runs the rest.
        case each
        /// All when the batch's last pass ends: on one machine whose cores the decoders share, this keeps decoding
        /// from competing with the batch's remaining passes.
        case batch
    }

    private let mailbox = EngineMailbox<EncodeRequest>()
    private let thread = ComputeThread()
    private let encoder: PromptEncoder
    private let maxBatch: Int
    private let batchWait: Duration
    private let send: SendPolicy
    private let log: ServiceLog
    public var capacity: Int { maxBatch * 2 }

    private let metrics: MetricsRegistry?

    /// An engine over a loaded prompt encoder.
    public init(
        encoder: PromptEncoder, maxBatch: Int, batchWait: Duration, send: SendPolicy = .each,
        metrics: MetricsRegistry? = nil, log: ServiceLog
    ) {
        self.metrics = metrics
        metrics?.declare(
            "l2s_encoder_batch_seconds", .histogram, help: "One batch of prompt passes (and projections)",
            buckets: MetricsRegistry.latencyBuckets)
        metrics?.declare(
            "l2s_encoder_batch_prompts", .histogram, help: "Prompts per batch of prompt passes (--max-batch bounds it)",
            buckets: EncoderEngine.batchBuckets)
        metrics?.declare("l2s_encoder_prompts_total", .counter, help: "Prompts by outcome", labels: ["outcome"])
        metrics?.declare("l2s_encoder_prompt_tokens_total", .counter, help: "Prompt tokens encoded")
        self.encoder = encoder
        self.maxBatch = max(1, maxBatch)
        self.batchWait = batchWait
        self.send = send
        self.log = log
    }

    public func start(outbox: WorkerOutbox) {
        thread.start(name: "l2s-encoder-compute") { [self] in
            // A short wait lets concurrent requests share one forward pass.
            while let delivery = mailbox.take(maxJobs: maxBatch, block: true, fillWait: batchWait) {
                if !delivery.jobs.isEmpty { encode(delivery.jobs, outbox: outbox) }
            }
        }
    }

    public func handle(_ message: Message) {
        switch message {
        case .encodeRequest(let request): mailbox.post(request)
        case .cancel: break  // encodes are short and shared by many jobs; the router caches the result anyway
        default: log.warning("encoder ignores \(message.kind) from the router")
        }
    }

    public func abandonAll() { mailbox.abandon() }

    public func stop() {
        mailbox.requestStop()
        thread.join()
    }

    private func encode(_ batch: [EncodeRequest], outbox: WorkerOutbox) {
        var accepted: [(EncodeRequest, [Int32])] = []
        for request in batch {
            do {
                let ids: [Int32]
                switch request.prompt {
                case .text(let text): ids = try encoder.tokenize(text)
                case .tokenIDs(let given): ids = given
                }
                if ids.count > encoder.maxPromptTokens {
                    throw ModelError.promptTooLong(tokens: ids.count, limit: encoder.maxPromptTokens)
                }
                accepted.append((request, ids))
            } catch {
                reject(request, error, outbox: outbox)
            }
        }
        guard !accepted.isEmpty else { return }
        if send == .each && !encoder.stacksPrompts {
            // The kernels run the batch prompt by prompt anyway: each encoding leaves when its pass ends.
            for item in accepted { encodeValidated([item], outbox: outbox) }
        } else {
            encodeValidated(accepted, outbox: outbox)
        }
    }

    private func encodeValidated(_ accepted: [(EncodeRequest, [Int32])], outbox: WorkerOutbox) {
        do {
            let started = ContinuousClock.now
            let encodings = try encoder.encode(accepted.map(\.1))
            metrics?.observe("l2s_encoder_batch_seconds", (ContinuousClock.now - started).inSeconds)
            metrics?.observe("l2s_encoder_batch_prompts", Double(accepted.count))
            metrics?.add("l2s_encoder_prompts_total", Double(accepted.count), labels: ["encoded"])
            metrics?.add("l2s_encoder_prompt_tokens_total", Double(accepted.reduce(0) { $0 + $1.1.count }))
            let dtype = encoder.bundle.wireDType
            let projected = encoder.bundle.projectorRunsOn == .encoder
            for ((request, ids), encoding) in zip(accepted, encodings) {
                log.debug(
                    "encoded prompt \(request.requestID.prefix(12))…: \(ids.count) tokens, batch of \(accepted.count)",
                    requestID: Self.logID(request), event: "encoded",
                    fields: [("prompt_hash", .string(request.requestID)), ("prompt_tokens", .int(ids.count))])
                let tensor = try Tensor(
                    dtype: DType(dtype), shape: [ids.count, encoder.encodingWidth],
                    bytes: Frame(WireRounding.narrow(encoding, to: dtype)))
                outbox.send(
                    .encoding(
                        Encoding(
                            requestID: request.requestID, promptHash: request.promptHash,
                            promptIDs: ids, tensor: tensor, projected: projected)))
                outbox.send(.credit(Credit(credits: 1)))
            }
        } catch  where accepted.count > 1 {
            // One bad prompt (an id outside the vocabulary, say) must not fail its batch-mates: retry one by one.
            for item in accepted { encodeValidated([item], outbox: outbox) }
        } catch {
            reject(accepted[0].0, error, outbox: outbox)
        }
    }

    /// What an encode's log lines are named by: the trace id of the job that asked for it, when it has a valid one.
    private static func logID(_ request: EncodeRequest) -> String? {
        request.traceID.isEmpty || !TraceID.isValid(request.traceID) ? nil : request.traceID
    }

    /// Batch-size buckets: powers of two up to 256 prompts (`--max-batch` is 8 by default).
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    private func reject(_ request: EncodeRequest, _ error: any Error, outbox: WorkerOutbox) {
        metrics?.add("l2s_encoder_prompts_total", labels: ["refused"])
        log.warning(
            "encode \(request.requestID.prefix(12))… refused: \(error)",
            requestID: Self.logID(request),
            fields: [("prompt_hash", .string(request.requestID))])
        outbox.send(
            .error(
                ErrorReply(
                    code: DecoderJobState.errorCode(for: error), message: "\(error)",
                    requestID: request.requestID)))
        outbox.send(.credit(Credit(credits: 1)))
    }
}
