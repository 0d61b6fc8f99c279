import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import './shell/styles/tokens.css';
import './shell/styles/base.css';
import { ApiError, isUnauthorized } from './shell/api.ts';
import { App } from './shell/App.tsx';
import { ME_KEY } from './shell/session.ts';

/** Any 401 from any query or mutation means the session ended: show the sign-in screen. */
const onError = (err: unknown) => {
  if (isUnauthorized(err)) queryClient.setQueryData(ME_KEY, null);
};

const queryClient: QueryClient = new QueryClient({
  queryCache: new QueryCache({ onError }),
  mutationCache: new MutationCache({ onError }),
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      // client errors (401, 404…) won't fix themselves; network and server errors get two retries
      retry: (count, err) => !(err instanceof ApiError && err.status >= 400 && err.status < 500) && count < 2,
      refetchOnWindowFocus: true,
    },
    mutations: { retry: false },
  },
});

const el = document.getElementById('root');
if (!el) throw new Error('missing #root');
createRoot(el).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
