export interface Todo {
  id: number;
  title: string;
  done: boolean;
}

export class TodoStore {
  private items: Todo[] = [];

  add(title: string): Todo {
    const t: Todo = { id: this.items.length + 1, title, done: false };
    this.items.push(t);
    return t;
  }
}
