// The app's own accounts (yours: a table, an ORM, a directory). latchkey needs two things of
// them: a user's id, and for the password login, the stored hash. One demo user here.
import { createPasswordHasher } from 'latchkey/password';

export interface User {
  id: string;
  name: string;
  passwordHash: string;
}

const demo: User = {
  id: 'u_1',
  name: 'demo',
  passwordHash: await createPasswordHasher().hash(process.env.DEMO_PASSWORD ?? 'correct horse battery staple'),
};

export async function findUser(name: string): Promise<User | null> {
  return name === demo.name ? demo : null;
}

export async function findUserById(id: string): Promise<User | null> {
  return id === demo.id ? demo : null;
}

/** What the browser may see of a user: never the hash. */
export const publicUser = (user: User) => ({ id: user.id, name: user.name });
