import { useId, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ApiError, errorMessage } from './api.ts';
import { useDocumentTitle } from './hooks.ts';
import { ME_KEY, sessionApi } from './session.ts';
import { Logo } from './ui/Logo.tsx';
import './Login.css';

export function Login() {
  const qc = useQueryClient();
  const [token, setToken] = useState('');
  const [empty, setEmpty] = useState(false);
  const inputId = useId();
  const helpId = useId();
  const errId = useId();
  useDocumentTitle('Sign in · Shipshape');

  const login = useMutation({
    mutationFn: (t: string) => sessionApi.login(t),
    onSuccess: (me) => {
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== ME_KEY[0] });
      qc.setQueryData(ME_KEY, me);
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim();
    setEmpty(!t);
    if (t) login.mutate(t);
  };

  const err = login.error;
  const message = empty
    ? 'Paste your API token to sign in.'
    : !err
    ? null
    : err instanceof ApiError && err.status === 401
      ? 'That token was not accepted. It may be mistyped or revoked.'
      : err instanceof ApiError && err.status === 429
        ? 'Too many attempts. Wait a minute and try again.'
        : errorMessage(err);

  return (
    <main className="login">
      <div className="login-card">
        <div className="login-brand">
          <Logo size={36} />
          <h1>Sign in to Shipshape</h1>
          <p className="muted">Monitoring, alerts and incidents for your services.</p>
        </div>
        <form onSubmit={submit} noValidate>
          <label htmlFor={inputId} className="label">
            API token
          </label>
          <input
            id={inputId}
            name="token"
            type="password"
            className={`input input-mono${message ? ' input-invalid' : ''}`}
            autoComplete="current-password"
            autoCapitalize="off"
            spellCheck={false}
            autoFocus
            placeholder="shp_…"
            value={token}
            onChange={(e) => {
              setToken(e.target.value);
              setEmpty(false);
            }}
            aria-describedby={message ? `${errId} ${helpId}` : helpId}
            aria-invalid={message ? true : undefined}
          />
          {message && (
            <div className="form-error" id={errId} role="alert">
              <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
                <circle cx="8" cy="8" r="7" fill="none" stroke="currentColor" strokeWidth="1.5" />
                <path d="M8 4.5v4M8 11v.01" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" />
              </svg>
              {message}
            </div>
          )}
          <button type="submit" className="btn btn-primary btn-block" disabled={login.isPending}>
            {login.isPending ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p className="login-help" id={helpId}>
          The admin token was printed once when the server first started, or set it with <code>SHIPSHAPE_ADMIN_TOKEN</code>. Create more
          with <code>shipshape token create</code>.
        </p>
      </div>
    </main>
  );
}
