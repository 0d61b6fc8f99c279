import type { ReactNode } from 'react';
import { isNotFound } from '../api.ts';
import { ErrorState, Skeleton } from './Feedback.tsx';

/** What QueryState needs of a TanStack query (plain and infinite queries both fit). */
export interface QueryLike<T> {
  data: T | undefined;
  isError: boolean;
  error: unknown;
  refetch: () => unknown;
}

interface Props<T> {
  query: QueryLike<T>;
  /** the error box's heading, e.g. "Could not load issues"; the problem+json detail goes below it */
  errorTitle: string;
  /** shown while there is no data and no error; default: a few skeleton lines */
  loading?: ReactNode;
  /** when the data is there but has nothing to show */
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  /** shown instead of the error box when the API answers 404 */
  notFound?: ReactNode;
  children: (data: T) => ReactNode;
}

/** Skeleton lines for a card body while its query loads. */
export function LoadingLines({ lines = 2 }: { lines?: number }) {
  return (
    <div className="pad">
      {Array.from({ length: lines }, (_, i) => (
        <Skeleton key={i} h={14} w={i % 2 ? '70%' : '100%'} />
      ))}
    </div>
  );
}

/**
 * The three states every query-backed view has, in one place: loading, error (with the API's
 * problem detail and a retry) and empty; otherwise `children(data)`. Data already on screen wins
 * over a failed refetch, so a blip does not blank a page.
 */
export function QueryState<T>({ query, errorTitle, loading, isEmpty, empty, notFound, children }: Props<T>) {
  if (query.data !== undefined) {
    if (isEmpty?.(query.data)) return <>{empty ?? null}</>;
    return <>{children(query.data)}</>;
  }
  if (query.isError) {
    if (notFound !== undefined && isNotFound(query.error)) return <>{notFound}</>;
    return <ErrorState error={query.error} onRetry={() => void query.refetch()} title={errorTitle} />;
  }
  return <>{loading ?? <LoadingLines />}</>;
}
