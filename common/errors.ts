/**
 * Every failure Memscope reports is a MemscopeError: a code that survives the
 * trip agent → extension → user (JSON-RPC error data, CLI exit status) and one
 * sentence that names the cause and the way out.
 */

export const ErrorCode = {
  BadArguments: 'bad-arguments',
  NoTarget: 'no-target',
  PrimaryDead: 'primary-dead',
  VersionMismatch: 'version-mismatch',
  NotAttachable: 'not-attachable',
  Permission: 'permission',
  OrphanedList: 'orphaned-list',
  AttachTimeout: 'attach-timeout',
  AttachFailed: 'attach-failed',
  AddressConflict: 'address-conflict',
  LayoutUnverified: 'layout-unverified',
  SecondaryUnavailable: 'secondary-unavailable',
  NoDpdkLibrary: 'no-dpdk-library',
  NotAttached: 'not-attached',
  AlreadyAttached: 'already-attached',
  TargetChanged: 'target-changed',
  BadSnapshot: 'bad-snapshot',
  RegisterInvalid: 'register-invalid',
  RegisterExists: 'register-exists',
  RegisterNoSpace: 'register-no-space',
  NotRegistered: 'not-registered',
  ConfirmationRequired: 'confirmation-required',
  BackingUnavailable: 'backing-unavailable',
  RegisterBusy: 'register-busy',
  RegisterFailed: 'register-failed',
  ProtocolViolation: 'protocol-violation',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** CLI exit status per error code; 0 is success, 1 is reserved for crashes. */
export const exitCodes: Record<ErrorCode, number> = {
  'bad-arguments': 2,
  'no-target': 10,
  'primary-dead': 11,
  'version-mismatch': 12,
  'not-attachable': 13,
  permission: 14,
  'orphaned-list': 15,
  'attach-timeout': 16,
  'attach-failed': 17,
  'address-conflict': 18,
  'layout-unverified': 19,
  'no-dpdk-library': 20,
  'not-attached': 21,
  'already-attached': 22,
  'target-changed': 23,
  'bad-snapshot': 24,
  'secondary-unavailable': 25,
  'register-invalid': 30,
  'register-exists': 31,
  'register-no-space': 32,
  'not-registered': 33,
  'confirmation-required': 34,
  'backing-unavailable': 35,
  'register-busy': 36,
  'register-failed': 37,
  'protocol-violation': 38,
  internal: 70,
};

export class MemscopeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'MemscopeError';
  }

  get exitCode(): number {
    return exitCodes[this.code];
  }

  toJSON(): ErrorData {
    return { code: this.code, message: this.message, detail: this.detail };
  }
}

export interface ErrorData {
  code: ErrorCode;
  message: string;
  detail?: string | undefined;
}

export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(exitCodes, x);
}

/** Turns anything thrown into a MemscopeError without losing a typed one. */
export function asMemscopeError(e: unknown): MemscopeError {
  if (e instanceof MemscopeError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new MemscopeError(
    ErrorCode.Internal,
    `Memscope hit an internal error (${msg.split('\n')[0]}); please report it with the agent log.`,
    e instanceof Error ? e.stack : undefined,
  );
}
